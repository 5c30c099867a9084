"""Model utilities: profiler, EMA, anchors and box coding, folding for inference."""
