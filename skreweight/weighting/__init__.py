"""Reweighters: class weights, propensity and balancing weights, diagnostics."""

from skreweight.weighting._class_weights import ClassWeights

__all__ = ["ClassWeights"]
