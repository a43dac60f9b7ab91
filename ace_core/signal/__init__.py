"""Signal processing of 1-D signals with recording gaps: filters, Hilbert phase, spectrograms, artifacts,
and the LFP and mean-fluorescence products built from them."""
