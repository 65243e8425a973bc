"""Presentation at the edge: terminal, JSON (and later HTML). Renderers never compute findings."""
