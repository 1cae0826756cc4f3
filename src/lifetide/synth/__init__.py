"""A synthetic beauty retailer whose data follows stated processes, with its ground truth."""

from lifetide.synth.config import SynthConfig
from lifetide.synth.generator import SynthSummary, generate

__all__ = ["SynthConfig", "SynthSummary", "generate"]
