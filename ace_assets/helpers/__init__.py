"""Helpers of the Dagster definitions: metadata, progress logging, staleness, and Dagster internals."""
