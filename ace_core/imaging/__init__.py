"""Movie processing, streamed a chunk of frames at a time: denoising, projections, cropping, preprocessing
(detrend, ΔF/F) and motion correction (``motion``)."""
