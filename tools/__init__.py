"""Operator tools (python -m tools.soak)."""
