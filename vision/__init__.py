"""Vision: PAI-compatible image models and the live per-room frame pipeline."""
