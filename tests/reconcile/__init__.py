"""Test data of the reconciliation service: the spec's JSON schemas (LICENSE.md) and the
article's surface forms."""
