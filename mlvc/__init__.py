"""mlvc: data and model version control next to git."""

__version__ = "0.2.0"

# The most threads (or stages at once) that `-j` or core.jobs may ask for: a typo such as
# `-j 10000` would otherwise start a thread per object and exhaust the machine.
MAX_JOBS = 256

__all__ = ["__version__"]
