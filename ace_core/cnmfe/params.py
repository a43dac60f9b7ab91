"""CNMF-E parameters under CaImAn's names and the lab's defaults, and the estimates a fit returns.

Conventions of the estimates: ``A`` is a scipy CSC matrix (H*W, K) whose rows are pixels in C (row-major)
order, pixel = row * W + col (CaImAn stores F order: transpose the image index to compare); columns have
unit L2 norm, so C is in data units x sqrt(pixels). C, S, YrA are (K, T) float32; the raw trace of unit k
is C[k] + YrA[k] + bl[k].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ace_core.catalog.parameter_table import CAIMAN_PARAMETERS

__all__ = ["CNMFEEstimates", "CNMFEParams"]


def int_pair(value: Any, name: str, kind: type = int) -> tuple:
    """A pair of numbers from one number or a two-element sequence (CaImAn's (7, 7) style).

    Parameters
    ----------
    value
        A number (booleans refused) or a sequence of two.
    name
        Parameter name, for the error message.
    kind
        Type each element is converted to.

    Returns
    -------
    tuple
        Two values of type ``kind``.

    Raises
    ------
    ValueError
        If ``value`` is neither a number nor a pair.
    """
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, list | tuple | np.ndarray) or len(value) != 2:
        raise ValueError(f"{name} must be a number or a pair, got {value!r}")
    return tuple(kind(v) for v in value)


# ------------------------------------------------------------------------------------------- parameters

# Keys we consume (CNMFEParams fields) come from the dataclass. These CaImAn keys are accepted and have no
# effect at the value given here (CNMF-E defaults); any other value is reported as inapplicable.


_NEUTRAL = {
    "method_init": "corr_pnr",
    "normalize_init": False,
    "low_rank_background": None,
    "nb_patch": 0,
    "use_cnn": False,
}
# CaImAn keys that do not apply to this implementation whatever their value (reported as inapplicable).


_OTHER_CAIMAN = {
    "only_init",  # our patches always run the whole CNMF-E (see the docstring of ace_core.cnmfe.fit)
    "fnames",
    "dims",
    "fr",  # the frame rate comes from the movie's metadata (from_parameters' frame_rate_hz)
    "n_processes",
    "dview",
    "memory_fact",
    "n_pixels_per_process",
    "block_size_spat",
    "block_size_temp",
    "num_blocks_per_run_spat",
    "num_blocks_per_run_temp",
    "bas_nonneg",
    "noise_method",
    "noise_range",
    "lags",
    "fudge_factor",
    "nIter",
    "maxIter",
    "alpha_snmf",
    "min_cnn_thr",
    "cnn_lowest",
    "gnb",
    "rolling_sum",
    "rolling_length",
    "thr_method",
    "maxthr",
    "nrgthr",
    "expandCore",
    "extract_cc",
    "se",
    "ss",
    "dist",
    "check_nan",
    "optimize_g",
    "method_ls",
    "rval_lowest",
    "SNR_lowest",
    "use_ecc",
    "max_ecc",
    "in_memory",
    "remove_very_bad_comps",
    "skip_refinement",
    "Ain",
    "nb",
}


@dataclass(frozen=True)
class CNMFEParams:
    """CNMF-E parameters: CaImAn names and the lab's defaults (the reference toolkit's CNMF-E settings).

    The lab defaults suit the lab's 608x608 Miniscope frames (gSig 7). For the synthetic movies of
    :mod:`ace_core.simulation.calcium` (neuron radius 5 px, Gaussian sigma ~2.5 px) use gSig=(3, 3),
    gSiz=(13, 13). Numbers given for pairs become pairs; an even gSiz is made odd (kernels need a centre
    pixel).

    Attributes
    ----------
    gSig
        Gaussian width of the seed filter (px).
    gSiz
        Neuron box / kernel size (odd px).
    min_corr, min_pnr
        Seed thresholds (local correlation, peak-to-noise ratio).
    center_psf
        Zero-mean seed kernel (one-photon).
    tsub, ssub
        Temporal and spatial down-sampling during initialisation.
    ssub_B
        Spatial down-sampling of the ring background.
    ring_size_factor
        Ring radius = ring_size_factor * gSiz / 2 (px).
    nb
        0 = ring model; the only one implemented.
    p
        AR order, 0-2.
    decay_time
        Decay time (s); sets the AR(1) coefficient exp(-1 / (decay_time fr)); for p = 2 it is the fallback
        when the autocovariance fit fails.
    fr
        Frame rate (Hz).
    merge_thr
        Trace correlation above which overlapping components are merged.
    rf
        Patch half-size (px); None = whole frame.
    stride
        Patch overlap (px).
    del_duplicates
        Keep a component only in the patch that owns its centroid.
    K
        Maximum components per patch; None = no limit.
    border_pix
        Seeds and footprints are excluded this close to the frame edge (px).
    min_SNR, rval_thr
        Quality thresholds of ``idx_good``.
    method_deconvolution
        'oasis', the only one implemented.
    update_background_components
        Refit the ring background in every round.
    s_min
        Smallest spike, in units of C; None: use ``s_min_sd``.
    s_min_sd
        Ours: smallest spike in noise SDs of each trace when s_min is None (the thresholded OASIS of
        Friedrich et al. 2017, which drops the many tiny spikes of the L1 solution).
    max_iter
        Ours: alternating rounds.
    chunk_frames
        Ours: frames per read.
    ring_fit_frames
        Ours: block-averaged frames used to fit W.

    Raises
    ------
    ValueError
        On construction, naming every value out of range (sizes, down-sampling factors, nb != 0, p,
        method_deconvolution, fr, rf / stride, K, border_pix, ring_size_factor).
    """

    gSig: tuple[int, int] = (7, 7)
    gSiz: tuple[int, int] = (29, 29)
    min_corr: float = 0.8
    min_pnr: float = 10.0
    center_psf: bool = True
    tsub: int = 2
    ssub: int = 1
    ssub_B: int = 2
    ring_size_factor: float = 1.4
    nb: int = 0
    p: int = 1
    decay_time: float | None = 0.4
    fr: float = 20.0
    merge_thr: float = 0.7
    rf: int | None = 40
    stride: int = 20
    del_duplicates: bool = True
    K: int | None = None
    border_pix: int = 0
    min_SNR: float = 2.5
    rval_thr: float = 0.85
    method_deconvolution: str = "oasis"
    update_background_components: bool = True
    s_min: float | None = None
    s_min_sd: float = 3.0
    max_iter: int = 2
    chunk_frames: int = 200
    ring_fit_frames: int = 1000

    def __post_init__(self) -> None:
        """Normalise the pairs (odd gSiz) and check every value (see the class's Raises section)."""
        fix = object.__setattr__
        fix(self, "gSig", int_pair(self.gSig, "gSig"))
        gsiz = int_pair(self.gSiz, "gSiz")
        fix(self, "gSiz", tuple(v if v % 2 else v + 1 for v in gsiz))  # kernels need a centre pixel
        problems = []
        if min(self.gSig) < 1 or min(self.gSiz) < 3:
            problems.append("gSig must be >= 1 and gSiz >= 3")
        for name in ("tsub", "ssub", "ssub_B", "max_iter", "chunk_frames", "ring_fit_frames"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1")
        if self.nb != 0:
            problems.append(f"nb must be 0 (ring-model background, CNMF-E); got {self.nb}")
        if self.p not in (0, 1, 2):
            problems.append(f"p must be 0, 1 or 2, got {self.p}")
        if self.method_deconvolution != "oasis":
            problems.append(f"method_deconvolution must be 'oasis', got {self.method_deconvolution!r}")
        if not self.fr > 0:
            problems.append("fr must be > 0")
        if self.rf is not None and (self.rf < 1 or not 0 <= self.stride < 2 * self.rf + 1):
            problems.append("need rf >= 1 and 0 <= stride < 2 rf + 1")
        if self.K is not None and self.K < 1:
            problems.append("K must be None or >= 1")
        if self.border_pix < 0 or self.ring_size_factor <= 0:
            problems.append("border_pix must be >= 0 and ring_size_factor > 0")
        if problems:
            raise ValueError("CNMFEParams: " + "; ".join(problems))

    @property
    def ring_radius_px(self) -> float:
        """Ring radius in full-resolution pixels: ``ring_size_factor * gSiz / 2``."""
        return self.ring_size_factor * self.gSiz[0] / 2

    @classmethod
    def from_parameters(
        cls, values: Mapping[str, Any], *, frame_rate_hz: float
    ) -> tuple[CNMFEParams, dict[str, list[str]]]:
        """Build from a CaImAn-named mapping, reporting keys that have no effect.

        Parameters
        ----------
        values
            Parameter values by CaImAn name. None values mean "default", except for ``rf``, ``K``,
            ``decay_time`` and ``s_min``, where None is a value.
        frame_rate_hz
            The movie's frame rate (Hz); always used as ``fr`` (a different ``fr`` in ``values`` is listed as
            inapplicable).

        Returns
        -------
        params : CNMFEParams
        report : dict
            ``{"unknown": [...], "inapplicable": [...]}``, sorted. 'inapplicable': CaImAn keys with no effect
            here (motion-correction keys, ``only_init``, CNN, or a non-default ``normalize_init``,
            ``low_rank_background``, ``nb_patch``, ``use_cnn``, ``method_init``, ``method_deconvolution``,
            ``nb``); 'unknown': keys that are neither.

        Raises
        ------
        ValueError
            As the constructor.
        """
        names = {f.name for f in dataclasses.fields(cls)} - {"fr"}
        kwargs: dict[str, Any] = {"fr": float(frame_rate_hz)}
        unknown: list[str] = []
        inapplicable: list[str] = []
        for key, value in values.items():
            if key == "fr":
                if value is not None and float(value) != float(frame_rate_hz):
                    inapplicable.append(key)
            elif key in _NEUTRAL:
                if value != _NEUTRAL[key] and not (value is None and key != "low_rank_background"):
                    inapplicable.append(key)
            elif key == "method_deconvolution" and value not in (None, "oasis"):
                inapplicable.append(key)  # only OASIS is implemented; it is used instead
            elif key == "nb" and value not in (None, 0):
                inapplicable.append(key)  # only the ring model (nb = 0) is implemented
            elif key in names:
                if value is not None or key in {"rf", "K", "decay_time", "s_min"}:
                    kwargs[key] = tuple(value) if isinstance(value, list) else value
            elif key in CAIMAN_PARAMETERS or key in _OTHER_CAIMAN:
                inapplicable.append(key)
            else:
                unknown.append(key)
        return cls(**kwargs), {"unknown": sorted(unknown), "inapplicable": sorted(inapplicable)}


@dataclass(frozen=True, eq=False)
class CNMFEEstimates:
    """Result of :func:`~ace_core.cnmfe.fit.fit_cnmfe` (see the module docstring for conventions).

    Attributes
    ----------
    A
        (H*W, K) CSC footprints, pixel order C (row-major), unit L2 norm.
    C, S, YrA
        (K, T) float32 traces, spikes and residuals.
    noise
        (K,) noise std of each raw trace.
    g
        (K, p) AR coefficients.
    bl
        (K,) baseline of each raw trace.
    b0
        (H, W) constant background image.
    background
        Ring-model summary (radius, ssub_B, number of weights per patch).
    snr, r_values
        (K,) quality metrics.
    idx_good
        (K,) bool: snr >= min_SNR and r_value >= rval_thr.
    dims
        (H, W).
    params
        The parameters used.
    corr_image, pnr_image
        (H, W) seed images (on the tsub-averaged movie).
    patches
        (row0, row1, col0, col1) of each patch.
    patch_of
        (K,) patch index of each unit.
    parameter_report
        ``{"unknown": [...], "inapplicable": [...]}`` from :meth:`CNMFEParams.from_parameters`.
    """

    A: sparse.csc_matrix
    C: np.ndarray
    S: np.ndarray
    YrA: np.ndarray
    noise: np.ndarray
    g: np.ndarray
    bl: np.ndarray
    b0: np.ndarray
    background: dict[str, Any]
    snr: np.ndarray
    r_values: np.ndarray
    idx_good: np.ndarray
    dims: tuple[int, int]
    params: CNMFEParams
    corr_image: np.ndarray
    pnr_image: np.ndarray
    patches: list[tuple[int, int, int, int]] = field(default_factory=list)
    patch_of: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    parameter_report: dict[str, list[str]] = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        """Number of units K."""
        return int(self.A.shape[1])

    def footprint(self, k: int) -> np.ndarray:
        """Footprint of unit ``k``.

        Parameters
        ----------
        k
            Column of ``A``.

        Returns
        -------
        numpy.ndarray
            (H, W), dense.
        """
        return np.asarray(self.A[:, k].todense()).reshape(self.dims)
