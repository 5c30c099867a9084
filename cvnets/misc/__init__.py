"""Model utilities: profiler, EMA, anchors and box coding."""
