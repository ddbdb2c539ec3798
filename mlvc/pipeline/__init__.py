"""Pipelines: mlvc.yaml, mlvc.lock, the stage graph, staleness, running, the run cache."""

PIPELINE_FILE = "mlvc.yaml"
LOCK_FILE = "mlvc.lock"
