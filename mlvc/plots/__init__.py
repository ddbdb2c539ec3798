"""Plots: the rows of plot files (CSV, TSV, JSON, YAML) and images, Vega-Lite specs made
from them with DVC's templates, and their rendering to one HTML page."""
