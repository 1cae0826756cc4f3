"""Measurement: revenue attribution, holdout lift and the dashboards' figures."""
