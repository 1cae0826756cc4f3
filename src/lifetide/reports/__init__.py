"""Self-contained HTML reports: the model report (`lifetide report models`)."""

from lifetide.reports.models import (
    ClassifierEvaluation,
    DataSummary,
    ModelParameters,
    ModelsReport,
    ParameterRow,
    RecommendationMetrics,
    TopShareComparison,
    Unavailable,
    models_report_html,
    render_models_report,
)

__all__ = [
    "ClassifierEvaluation",
    "DataSummary",
    "ModelParameters",
    "ModelsReport",
    "ParameterRow",
    "RecommendationMetrics",
    "TopShareComparison",
    "Unavailable",
    "models_report_html",
    "render_models_report",
]
