"""Simulated experiments with known ground truth, written in the real file formats, and the scores that
compare recovered products with that truth. Used by tests, benchmarks and the demo; never by the pipeline."""
