"""The library version, in one place (the package root and the decision log read it)."""

__version__ = "0.1.0"
