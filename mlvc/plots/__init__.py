"""Plots: the rows of plot files (CSV, TSV, JSON, YAML) and images, Vega-Lite specs made
from them with DVC's templates, and their rendering to one HTML page."""

# DVC's plot templates (see :mod:`mlvc.plots.vega`); here, so that the CLI names them cheaply.
TEMPLATES = ("linear", "simple", "scatter", "smooth", "confusion", "confusion_normalized",
             "bar_horizontal", "bar_horizontal_sorted")
