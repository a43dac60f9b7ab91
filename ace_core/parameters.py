"""Parameter vocabulary, defaults and value forms of the analysis pipelines.

The names are the reference toolkit's (``ace_neuro``) so that a lab's ``analysis_parameters.csv``
works unchanged. The defaults are *ours*: where the reference's defaults are unusable headless
or scientifically wrong we deviate, and say so next to the value.

Reading the CSV lives in :mod:`ace_core.catalog`; this module only knows names, defaults, and the
form each value must have (:func:`check_parameter`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "ALIASES",
    "CAIMAN_GROUPS",
    "CAIMAN_PARAMETERS",
    "DEFAULT_PARAMETERS",
    "INFORMATIONAL_COLUMNS",
    "check_parameter",
    "expected_form",
]

# --- CaImAn block (analysis_parameters.csv, lab defaults) -------------------------------------------
# name -> (default, CNMFParams group(s)). Every other CaImAn parameter keeps CaImAn's own default.
_CAIMAN: dict[str, tuple[Any, tuple[str, ...]]] = {
    "decay_time": (0.4, ("data",)),
    "update_background_components": (True, ("spatial",)),
    "method_deconvolution": ("oasis", ("temporal",)),
    "method_init": ("corr_pnr", ("init",)),
    "K": (None, ("init",)),
    "gSig": ([7, 7], ("init",)),
    "gSiz": ([29, 29], ("init",)),
    "tsub": (2, ("init",)),
    "ssub": (1, ("init",)),
    "ssub_B": (2, ("init",)),
    "ring_size_factor": (1.4, ("init",)),
    "min_corr": (0.8, ("init",)),
    "min_pnr": (10, ("init",)),
    "normalize_init": (False, ("init",)),
    "center_psf": (True, ("init",)),
    "nb": (0, ("init",)),
    "p": (1, ("preprocess", "temporal")),
    "del_duplicates": (True, ("patch",)),
    "border_pix": (0, ("patch",)),
    "low_rank_background": (None, ("patch",)),
    "rf": (40, ("patch",)),
    "stride": (20, ("patch",)),
    "only_init": (True, ("patch",)),
    "nb_patch": (0, ("patch",)),
    "min_SNR": (2.5, ("quality",)),
    "rval_thr": (0.85, ("quality",)),
    "use_cnn": (False, ("quality",)),
    "merge_thr": (0.7, ("merging",)),
    "pw_rigid": (True, ("motion",)),
    "shifts_opencv": (True, ("motion",)),
    "max_shifts": ([15, 15], ("motion",)),
    "gSig_filt": ([7, 7], ("motion",)),
    "strides": ([48, 48], ("motion",)),
    "overlaps": ([24, 24], ("motion",)),
    "max_deviation_rigid": (7, ("motion",)),
    "border_nan": ("copy", ("motion",)),
}

_DEFAULTS: dict[str, Any] = {
    # --- ephys -------------------------------------------------------------------------------------
    "channel_name": "PFCLFPvsCBEEG",
    "remove_artifacts": False,
    # Ours: the phase needs a band (reference API default None = no filter). FALSE in the CSV = no filter.
    "filter_type": "butter",
    "filter_range": [0.5, 4],
    # Filter order, shared by the ephys and the miniscope filter as in the reference.
    "n": 2,
    # FIR length; None = chosen from the sampling rate and the band (the reference passed n=2 taps).
    "fir_numtaps": None,
    # Artifact removal (reference: hard-coded 1500 uV, 60 s merge gap, 75-sample Hann taper).
    "artifact_threshold_uv": 1500,
    "artifact_merge_s": 60,
    "artifact_taper_samples": 75,
    # Ours: phases are a product of the platform (reference API default False).
    "compute_phases": True,
    # LFP multitaper spectrogram (the reference's ephys plot defaults; prefixed so they do not collide
    # with the miniscope spectrogram's names).
    "lfp_window_length": 30,
    "lfp_window_step": 3,
    "lfp_freq_lims": [0, 50],
    "lfp_time_bandwidth": 2,
    # --- TTL synchronisation (multimodal) ----------------------------------------------------------
    "delete_TTLs": True,
    # Ours: repair gaps and report them as low-confidence periods (reference API default False).
    "fix_TTL_gaps": True,
    "indices of TTL events to delete": [],
    # Gap threshold as a multiple of the nominal frame period (reference: hard-coded 0.065 s).
    "ttl_gap_threshold_periods": 1.5,
    "only_experiment_events": True,
    "all_TTL_events": True,
    # Ours: event phases are the point of the multimodal analysis (reference API default False).
    "ca_events": True,
    "time_range": None,
    # --- miniscope (reference API defaults) --------------------------------------------------------
    # No boolean `crop`: cropping happens iff crop_coords is set; `crop` is the legacy coordinate column.
    "miniscope_filenames": [],
    "crop_coords": None,
    "detrend_method": "median",
    "df_over_f": False,
    "secs_window": 5,
    "quantile_min": 8,
    "df_over_f_method": "delta_f_over_sqrt_f",
    "parallel": False,
    "n_processes": 12,
    "apply_motion_correction": True,  # the multimodal pipeline's default (the miniscope API's was False)
    # GUI flags: vocabulary only, the platform runs headless (curation and QC are assets).
    "inspect_motion_correction": False,
    "plot_params": False,
    "remove_components_with_gui": True,
    "run_CNMFE": False,
    "save_estimates": True,
    "save_CNMFE_estimates_filename": "estimates.hdf5",
    "save_CNMFE_params": False,
    "find_calcium_events": True,
    "derivative_for_estimates": "first",
    "event_height": 5,
    # ours: threshold in noise SDs of each trace (absolute heights depend on scaling); None = off
    "event_height_sd": None,
    "compute_miniscope_phase": True,
    "filter_miniscope_data": True,
    "cut": [0.1, 1.5],
    "ftype": "butter",
    "btype": "bandpass",
    "inline": False,
    "compute_miniscope_spectrogram": True,
    "window_length": 30,
    "window_step": 3,
    "freq_lims": [0, 15],
    "time_bandwidth": 2,
    # --- shared utilities as products (seed names) ---
    "denoise": False,  # V4 band/flicker removal as the first miniscope step
    "centerHalfHeightToLeave": 90,
    "notchHalfWidth": 3,
    "goodRadius": 2000,
    "frameStep": 10,
    "cutoff": 3.0,  # Hz, flicker low-pass
    "butterOrder": 6,
    "frameWindow": None,  # z-score window (frames); None = whole trace
    "framesb": 20,  # event-triggered average: frames before each event
    "framesa": 60,  # ... and after
    # --- CaImAn (section "CaImAn block"; lab defaults) ---------------------------------------------
    **{name: default for name, (default, _) in _CAIMAN.items()},
}

#: Our pipeline defaults, by reference name. Read-only; list values must be copied before mutation.
DEFAULT_PARAMETERS: Mapping[str, Any] = MappingProxyType(_DEFAULTS)

#: Names of the CaImAn block (routed into ``CNMFParams``).
CAIMAN_PARAMETERS: frozenset[str] = frozenset(_CAIMAN)

#: CaImAn name -> the ``CNMFParams`` group(s) it belongs to.
CAIMAN_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: groups for name, (_, groups) in _CAIMAN.items()}
)

#: Alternative column names -> canonical parameter name. When both are set, the canonical one wins.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "filter_data": "filter_miniscope_data",
        "spectrogram": "compute_miniscope_spectrogram",
        "method": "df_over_f_method",
        # The reference's miniscope API and CLI-mapper name for the movie list.
        "filenames": "miniscope_filenames",
        # The lab file's legacy crop column (reference defect: the CLI mapper ignored it).
        "crop": "crop_coords",
    }
)

#: Columns that are known but are not pipeline parameters: never used, never reported as unknown.
INFORMATIONAL_COLUMNS: frozenset[str] = frozenset(
    {
        # identity block (duplicates of experiments.csv; paths are always taken from there)
        "line number",
        "id",
        "date (YYMMDD)",
        "Box calcium folder ID",
        "Box Calcium Folder ID",
        "calcium imaging directory",
        "Box ephys folder ID",
        "ephys directory",
        # the rest of experiments.csv, for labs that keep a single sheet
        "rat weight (kg)",
        "systemic drug",
        "systemic dose (% or mg/kg/min)",
        "systemic drug concentration (mg/mL)",
        "total systemic time (min)",
        "emg channel",
        "events filename",
        "LFP and EEG CSCs",
        # timing / study block
        "zero time (s)",
        "baseline period (min)",
        "periods of high slow wave power (s)",
        "control periods (s)",
        "crop_square",
        "ca_ephys_baseline_video_num",
        "ca_ephys_slow_wave_video_num",
        "ca_ephys_burst_suppression_video_num",
        "comments",
        # interactive-session settings of the reference CLIs; they do not change results
        "plot_channel",
        "plot_spectrogram",
        "plot_phases",
        "logging_level",
    }
)


# --- value forms --------------------------------------------------------------------------------------


class _Invalid(ValueError):
    pass


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid
    return value


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Invalid
    return value


def _int(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if not _is_int(value) or value < minimum:
            raise _Invalid
        return value

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _number(minimum: float = -math.inf, maximum: float = math.inf, *, strict: bool = False):
    def check(value: Any) -> float:
        if not _is_number(value):
            raise _Invalid
        if (value <= minimum if strict else value < minimum) or value > maximum:
            raise _Invalid
        return value

    return check


def _band(value: Any) -> list[float]:
    """Two increasing non-negative frequencies (Hz)."""
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(map(_is_number, value)):
        raise _Invalid
    low, high = value
    if not 0 <= low < high:
        raise _Invalid
    return list(value)


def _cut(value: Any) -> float | list[float]:
    if _is_number(value) and value > 0:
        return value
    return _band(value)


def _time_range(value: Any) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or len(value) != 2 or not all(map(_is_number, value)):
        raise _Invalid
    if not value[0] < value[1]:
        raise _Invalid
    return list(value)


def _int_pair(minimum: int) -> Callable[[Any], list[int]]:
    def check(value: Any) -> list[int]:
        if _is_int(value):
            value = [value, value]
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _Invalid
        return [_int(minimum)(v) for v in value]

    return check


def _ttl_indices(value: Any) -> list[int]:
    if _is_int(value):
        value = [value]
    if not isinstance(value, list | tuple):
        raise _Invalid
    return [_int(0)(v) for v in value]


def _filenames(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list | tuple):
        raise _Invalid
    names = [v.strip() if isinstance(v, str) else v for v in value]
    if not all(isinstance(v, str) and v for v in names):
        raise _Invalid
    return names


def _crop_coords(value: Any) -> list[int]:
    # A dict is what the reference wrote back into the CSV (str of {x0, y0, x1, y1}; defect 11).
    if isinstance(value, dict):
        try:
            value = [value[k] for k in ("x0", "y0", "x1", "y1")]
        except KeyError:
            raise _Invalid from None
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise _Invalid
    coords = [_int(0)(v) for v in value]
    if coords[0] == coords[2] or coords[1] == coords[3]:
        raise _Invalid
    return coords


def _filter_type(value: Any) -> str | None:
    if value is False:
        return None
    if not isinstance(value, str) or value.lower() not in {"butter", "butterworth", "fir"}:
        raise _Invalid
    return value.lower()


def _detrend(value: Any) -> str | None:
    if value is False:
        return None
    if not isinstance(value, str) or value.lower() not in {"median", "linear"}:
        raise _Invalid
    return value.lower()


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in allowed:
            raise _Invalid
        return value.lower()

    return check


def _border_nan(value: Any) -> bool | str:
    # border_nan is a keep-as-is column (reference rule), so booleans arrive as text.
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    if isinstance(value, bool) or (isinstance(value, str) and value.lower() in {"copy", "min"}):
        return value.lower() if isinstance(value, str) else value
    raise _Invalid


# name -> (check, expected form). Parameters not listed here get a check from their default's type.
_FORMS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "channel_name": (_string, "a channel name (the .ncs file name without extension)"),
    "filter_type": (_filter_type, "butter, butterworth, fir, or FALSE for no filter"),
    "filter_range": (_band, "two frequencies in Hz, 0 <= low < high, e.g. [0.5, 4]"),
    "n": (_int(1), "a positive integer (filter order)"),
    "fir_numtaps": (_optional(_int(3)), "an integer >= 3, or empty for automatic"),
    "artifact_threshold_uv": (_number(0, strict=True), "a positive number (uV)"),
    "artifact_merge_s": (_number(0), "a non-negative number (s)"),
    "artifact_taper_samples": (_int(1), "a positive integer (samples)"),
    "lfp_window_length": (_number(0, strict=True), "a positive number (s)"),
    "lfp_window_step": (_number(0, strict=True), "a positive number (s)"),
    "lfp_freq_lims": (_band, "two frequencies in Hz, 0 <= low < high, e.g. [0, 50]"),
    "lfp_time_bandwidth": (_number(0, strict=True), "a positive number (time-bandwidth product)"),
    "indices of TTL events to delete": (_ttl_indices, "a list of non-negative integers, e.g. [9119,9120]"),
    "ttl_gap_threshold_periods": (_number(1, strict=True), "a number > 1 (multiple of the frame period)"),
    "time_range": (_time_range, "two times in s, start < end, e.g. [2280, 4000]"),
    "miniscope_filenames": (_filenames, "a list of movie file names, e.g. ['0.avi', '1.avi']"),
    "crop_coords": (
        _optional(_crop_coords),
        "four non-negative integers (x0, y0, x1, y1) with x0 != x1 and y0 != y1, e.g. (67, 503, 555, 61)",
    ),
    "detrend_method": (_detrend, "median, linear, or FALSE for none"),
    "secs_window": (_number(0, strict=True), "a positive number (s)"),
    "quantile_min": (_number(0, 100), "a percentile between 0 and 100"),
    "n_processes": (_int(1), "a positive integer"),
    "event_height": (_number(), "a number"),
    "event_height_sd": (_optional(_number(0, strict=True)), "a positive number (noise SDs) or empty"),
    "cut": (_cut, "a positive frequency, or two frequencies 0 <= low < high (Hz)"),
    "ftype": (_choice("butter", "butterworth", "fir"), "butter, butterworth or fir"),
    "btype": (
        _choice("bandpass", "lowpass", "highpass", "bandstop"),
        "bandpass, lowpass, highpass or bandstop",
    ),
    "window_length": (_number(0, strict=True), "a positive number (s)"),
    "window_step": (_number(0, strict=True), "a positive number (s)"),
    "freq_lims": (_band, "two frequencies in Hz, 0 <= low < high, e.g. [0, 15]"),
    "time_bandwidth": (_number(0, strict=True), "a positive number (time-bandwidth product)"),
    # CaImAn
    "decay_time": (_number(0, strict=True), "a positive number (s)"),
    "K": (_optional(_int(1)), "a positive integer, or empty for unbounded"),
    "gSig": (_int_pair(1), "two positive integers (px), e.g. (7, 7)"),
    "gSiz": (_int_pair(1), "two positive integers (px), e.g. (29, 29)"),
    "tsub": (_int(1), "a positive integer"),
    "ssub": (_int(1), "a positive integer"),
    "ssub_B": (_int(1), "a positive integer"),
    "ring_size_factor": (_number(0, strict=True), "a positive number"),
    "min_corr": (_number(-1, 1), "a correlation between -1 and 1"),
    "min_pnr": (_number(0), "a non-negative number"),
    "nb": (_int(0), "a non-negative integer"),
    "p": (_int(0), "a non-negative integer (AR order)"),
    "border_pix": (_int(0), "a non-negative integer (px)"),
    "low_rank_background": (_optional(_bool), "TRUE, FALSE or empty"),
    "rf": (_int(1), "a positive integer (px)"),
    "stride": (_int(0), "a non-negative integer (px)"),
    "nb_patch": (_int(0), "a non-negative integer"),
    "min_SNR": (_number(), "a number"),
    "rval_thr": (_number(-1, 1), "a correlation between -1 and 1"),
    "merge_thr": (_number(-1, 1), "a correlation between -1 and 1"),
    "max_shifts": (_int_pair(0), "two non-negative integers (px), e.g. (15, 15)"),
    "gSig_filt": (_int_pair(1), "two positive integers (px), e.g. (7, 7)"),
    "strides": (_int_pair(1), "two positive integers (px), e.g. (48, 48)"),
    "overlaps": (_int_pair(0), "two non-negative integers (px), e.g. (24, 24)"),
    "max_deviation_rigid": (_int(0), "a non-negative integer (px)"),
    "border_nan": (_border_nan, "copy, min, TRUE or FALSE"),
}


def _form_from_default(default: Any) -> tuple[Callable[[Any], Any], str]:
    if isinstance(default, bool):
        return _bool, "TRUE or FALSE"
    if isinstance(default, int):
        return _int(-(2**63)), "an integer"
    if isinstance(default, float):
        return _number(), "a number"
    if isinstance(default, str):
        return _string, "a non-empty text"
    return (lambda value: value), "any value"


def expected_form(name: str) -> str:
    """Human-readable form a parameter's value must have (used in error messages)."""
    if name in _FORMS:
        return _FORMS[name][1]
    return _form_from_default(DEFAULT_PARAMETERS[name])[1]


def check_parameter(name: str, value: Any) -> Any:
    """Return ``value`` in canonical form (tuples as lists, ``FALSE`` as None where allowed).

    Raises ``KeyError`` for an unknown name and ``ValueError`` whose message is the expected form
    when the value does not fit; callers add the file/line/column.
    """
    if name not in DEFAULT_PARAMETERS:
        raise KeyError(f"unknown parameter {name!r}")
    check, form = _FORMS.get(name) or _form_from_default(DEFAULT_PARAMETERS[name])
    try:
        return check(value)
    except _Invalid:
        raise ValueError(form) from None
