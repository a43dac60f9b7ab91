"""Signal processing of 1-D signals with recording gaps: filters, Hilbert phase, spectrograms, artifacts.

The LFP and mean-fluorescence products built from them are in :mod:`ace_core.products.ephys` and
:mod:`ace_core.products.miniscope`.
"""
