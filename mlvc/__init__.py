"""mlvc: data and model version control next to git."""

__version__ = "0.1.0"

__all__ = ["__version__"]
