"""Lifetide: customer data, predictions, segments and journeys for retailers."""

__version__ = "0.1.0"
