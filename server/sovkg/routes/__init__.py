"""Thin HTTP handlers, one module per surface."""
