"""Collecting what customers do: the Segment-compatible tracking API and its durable log."""
