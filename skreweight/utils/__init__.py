"""Utilities: estimator discovery, validation shims and backend helpers."""
