"""Baseline re-creation of the tutorial's Flask disaster-tweet classifier."""
