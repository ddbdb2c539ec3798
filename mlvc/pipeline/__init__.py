"""Pipelines: mlvc.yaml, mlvc.lock, the stage graph, staleness, running, the run cache."""
