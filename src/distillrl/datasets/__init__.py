"""Offline data: Minari datasets recorded from teachers, and episodes as context windows."""
