"""ACE core: science and file formats for multimodal (Miniscope + Neuralynx) recordings.

Importable and testable without Dagster. Plain functions and small dataclasses; numpy in,
numpy/xarray out; units in names.
"""
