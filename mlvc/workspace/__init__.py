"""Workspace: state DB, ignore rules, scanning and building trees, links, checkout."""
