"""Inference: observations → QueenNN (hot-loaded) → gate → decisions."""
