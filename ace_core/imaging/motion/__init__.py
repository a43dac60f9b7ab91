"""NoRMCorre-style rigid and piecewise-rigid motion correction of one-photon (Miniscope) movies, streamed.

Algorithm (Pnevmatikakis & Giovannucci 2017), written from the paper, not from CaImAn's code:

* Estimation works on a band-passed copy: each frame loses its best-fitting quadratic surface (mean,
  background gradient, vignette), is multiplied by a smooth apodisation window (so the FFT's wrap-around
  edge does not become a sensor-fixed feature that pulls the peak to zero shift), Fourier transformed and
  weighted by a difference of Gaussians (DoG) built from `gSig_filt` (`_bandpass_weight`). Doing the
  band-pass as a weight on the FFT we need anyway costs nothing extra.
* Shifts are the peak of the plain cross-correlation of the band-passed frame with the band-passed template
  (never whitened / phase correlation: that undoes the band-pass and locks on noise or the vignette),
  searched within `max_shifts`, then refined to 1/`upsample_factor` px (+-0.6 px around the integer peak)
  by cubic interpolation of the correlation surface (`subpixel='cubic'`, default) or by the local
  upsampled DFT of Guizar-Sicairos et al. 2008 (`subpixel='dft'`); both measured at ~0.09 px RMSE.
* The template is the mean of the first `template_frames` frames, refined `template_iters` times by
  registering those frames to it and re-averaging; with `niter_rig` > 1 whole-movie passes follow, each
  replacing the template with the mean of the whole registered movie (NoRMCorre's template update across
  splits, done per pass rather than per chunk so that results do not depend on chunking or on the order
  in which parallel chunks finish).
* Piecewise-rigid (`pw_rigid`): the frame is band-passed and rigidly corrected in one Fourier transform,
  cut into overlapping patches (spacing `strides`, size `strides + overlaps`) and each patch is registered
  to the template's patch within `max_deviation_rigid`, at 1/`upsample_factor_grid` px. Two additions to
  NoRMCorre, both measured on generated warps: a patch whose normalised correlation peak is below
  `min_patch_corr` (low texture) takes the rigid shift, and the deviations from the rigid shift are
  median-filtered over `patch_median` x `patch_median` neighbouring patches (a firing neuron or a
  featureless patch otherwise throws single patches off by pixels). The patch-centre grid is interpolated
  to every pixel (cubic spline) and the frame resampled with `scipy.ndimage.map_coordinates`.
* Shifts are always applied to the ORIGINAL frames (uint8 or float in, float32 out).

Sign convention: a shift (dy, dx) is the CORRECTION applied, corrected(y, x) = frame(y - dy, x - dx), i.e.
the negated tissue displacement (:mod:`ace_core.simulation.calcium` displaces content by +d; the
correction is -d).

Streaming: a worker (`correct_chunk`, picklable, top level) reads its own frames from the `FrameSource`,
writes its corrected frames with `movies.write_region` and returns only per-frame results and two
(H, W) sums, so memory does not grow with the movie and the same code runs on any
`concurrent.futures.Executor` (process pool, `distributed.Client.get_executor()`).

Modules, by stage: ``params`` (parameters), ``geometry`` (patch grid and shift field), ``registration``
(estimating shifts), ``resampling`` (applying them), ``correction`` (the whole movie, streamed, and the
``motion_shifts`` product).
"""

from ace_core.imaging.motion.correction import (
    ChunkResult,
    MotionCorrectionResult,
    copy_chunk,
    correct_chunk,
    crispness,
    identity_result,
    make_template,
    motion_correct,
    result_dataset,
)
from ace_core.imaging.motion.geometry import patch_centers, patch_grid, shift_field
from ace_core.imaging.motion.params import MotionCorrectionParams
from ace_core.imaging.motion.registration import estimate_shifts
from ace_core.imaging.motion.resampling import apply_shifts

__all__ = [
    "ChunkResult",
    "MotionCorrectionParams",
    "MotionCorrectionResult",
    "apply_shifts",
    "copy_chunk",
    "correct_chunk",
    "crispness",
    "estimate_shifts",
    "identity_result",
    "make_template",
    "motion_correct",
    "patch_centers",
    "patch_grid",
    "result_dataset",
    "shift_field",
]
