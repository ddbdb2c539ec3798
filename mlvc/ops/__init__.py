"""The Python API: one module per verb, plain functions taking a Repo, frozen results."""
