"""Metrics: EmoCue-360, the cue-level score of explanations (`emocue360`)."""
