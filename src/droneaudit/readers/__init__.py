"""Readers turn evidence files into records; one module per format, picked by content (see _registry)."""
