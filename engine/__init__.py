"""The training and evaluation loops, shared by every task."""
