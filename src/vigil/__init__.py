"""Vigil: source → frames → motion → detect → track → apps → events/recordings."""

__version__ = "0.1.0"
