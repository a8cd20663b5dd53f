"""Datasets: the official frame/flow folder layout, preparing it from videos, loading it for evaluation."""
