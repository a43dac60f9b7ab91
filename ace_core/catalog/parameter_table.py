"""Every analysis parameter, declared once: name, default, form, unit, description and the products it feeds.

The names are the reference toolkit's (``ace_neuro``), so a lab's ``analysis_parameters.csv`` works
unchanged; the defaults are ours where the reference's were unusable headless or scientifically wrong
(each such default says so). Everything else is derived from :data:`PARAMETERS`: CSV validation
(:mod:`ace_core.catalog.parameters`), the parameter-group data versions that make products stale, the
Dagster Launchpad fields and the README's parameter table.

A parameter belongs to one or more :data:`GROUPS`. A group is what Dagster observes as one source (its
version is the hash of the line's values of the group's parameters) and lists the products that read
it; a group that is not ``observed`` holds knobs that do not change results (worker counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ace_core.catalog import forms
from ace_core.catalog.forms import BOOL, BORDER_NAN, CROP_COORDS, CUT, TEXT, TTL_INDICES, Form

__all__ = [
    "ALIASES",
    "CAIMAN_PARAMETERS",
    "DEFAULT_PARAMETERS",
    "GROUPS",
    "INFORMATIONAL_COLUMNS",
    "NOT_USED",
    "PARAMETERS",
    "Parameter",
    "ParameterGroup",
    "check_parameter",
    "group_parameters",
    "markdown_table",
    "product_parameters",
]


@dataclass(frozen=True)
class ParameterGroup:
    """Parameters that one or more products read together.

    Attributes
    ----------
    name
        Name of the group, also the name of its observed source in Dagster (``crop_parameters``).
    products
        Names of the products (Dagster assets) that read the group.
    observed
        Whether its version makes those products stale (False for knobs that do not change results).
    """

    name: str
    products: tuple[str, ...]
    observed: bool = True


@dataclass(frozen=True)
class Parameter:
    """One analysis parameter.

    Attributes
    ----------
    name
        Column name in ``analysis_parameters.csv`` (the reference's spelling).
    default
        Value used when the line's row leaves the column empty.
    form
        How a value is checked and what it must look like (:class:`~ace_core.catalog.forms.Form`).
    description
        One line saying what the parameter does.
    groups
        The :data:`GROUPS` it belongs to.
    unit
        Unit of the value ("Hz", "s", "px", ...), empty when it has none.
    caiman
        True for the CaImAn ``CNMFParams`` names the lab's file carries.
    reads
        The products of its groups that read it, when not all of them do.
    """

    name: str
    default: Any
    form: Form
    description: str
    groups: tuple[str, ...]
    unit: str = ""
    caiman: bool = False
    reads: tuple[str, ...] = ()

    @property
    def field_name(self) -> str:
        """The name as a Python identifier (Launchpad field): spaces become underscores."""
        return self.name.replace(" ", "_")

    @property
    def products(self) -> tuple[str, ...]:
        """The products that read this parameter."""
        return self.reads or tuple(p for g in self.groups for p in GROUPS[g].products)


def _groups(*groups: ParameterGroup) -> Mapping[str, ParameterGroup]:
    return MappingProxyType({g.name: g for g in groups})


#: The parameter groups, by name, in pipeline order.
GROUPS: Mapping[str, ParameterGroup] = _groups(
    ParameterGroup("lfp_parameters", ("lfp",)),
    ParameterGroup("lfp_filter_parameters", ("filtered_lfp",)),
    ParameterGroup("lfp_phase_parameters", ("lfp_phase",)),
    ParameterGroup("lfp_spectrogram_parameters", ("lfp_spectrogram",)),
    ParameterGroup("ttl_parameters", ("t_ca_im",)),
    ParameterGroup("denoise_parameters", ("denoised_movie",)),
    ParameterGroup("crop_parameters", ("cropped_movie",)),
    ParameterGroup("preprocess_parameters", ("preprocessed_movie",)),
    ParameterGroup("motion_parameters", ("motion_corrected_movie", "motion_shifts")),
    ParameterGroup("miniscope_filter_parameters", ("miniscope_band",)),
    ParameterGroup("miniscope_phase_parameters", ("miniscope_phase",)),
    ParameterGroup("miniscope_spectrogram_parameters", ("miniscope_spectrogram",)),
    ParameterGroup("cnmfe_parameters", ("cnmfe_estimates",)),
    ParameterGroup("event_parameters", ("calcium_events",)),
    ParameterGroup("trace_analysis_parameters", ("zscored_traces", "event_triggered_averages")),
    ParameterGroup("event_phase_parameters", ("event_phases",)),
    ParameterGroup("phase_histogram_parameters", ("phase_histograms",)),
    ParameterGroup("compute", ("motion_corrected_movie", "motion_shifts", "cnmfe_estimates"), observed=False),
)

_positive_s = forms.number("a positive number (s)", 0, strict=True)
_positive_hz = forms.number("a positive number (Hz)", 0, strict=True)
_time_bandwidth = forms.number("a positive number (time-bandwidth product)", 0, strict=True)
_correlation = forms.number("a correlation between -1 and 1", -1, 1)
_filter_type = forms.choice("butter", "butterworth", "fir", false_means_none=True)
_ftype = forms.choice("butter", "butterworth", "fir")
_positive_int = forms.integer(1, "a positive integer")
_non_negative_int = forms.integer(0, "a non-negative integer")


def _p(name, default, form, description, *groups, unit="", caiman=False, reads=()) -> Parameter:
    return Parameter(name, default, form, description, groups, unit, caiman, tuple(reads))


_LFP, _FILT, _TTL = ("lfp_parameters",), ("lfp_filter_parameters",), ("ttl_parameters",)
_DEN, _CROP, _PRE = ("denoise_parameters",), ("crop_parameters",), ("preprocess_parameters",)
_MOT, _COMPUTE, _LSPEC = ("motion_parameters",), ("compute",), ("lfp_spectrogram_parameters",)
_MBAND, _MSPEC = ("miniscope_filter_parameters",), ("miniscope_spectrogram_parameters",)
_CNMFE, _EV = ("cnmfe_parameters",), ("event_parameters",)
_TRACE = ("trace_analysis_parameters",)

# fmt: off
_TABLE: tuple[Parameter, ...] = (
    # --- ephys ------------------------------------------------------------------------------------------
    _p("channel_name", "PFCLFPvsCBEEG", TEXT,
       "Neuralynx channel analysed as the LFP (.ncs name without extension)", *_LFP),
    _p("remove_artifacts", False, BOOL,
       "zero supra-threshold stretches of the LFP (movement, cable knocks)", *_LFP),
    _p("artifact_threshold_uv", 1500, forms.number("a positive number (uV)", 0, strict=True),
       "absolute amplitude above which a sample is an artifact (reference: hard-coded 1500)", *_LFP,
       unit="µV"),
    _p("artifact_merge_s", 60, forms.number("a non-negative number (s)", 0),
       "artifacts closer than this are merged into one zeroed stretch (reference: 60 s)", *_LFP, unit="s"),
    _p("artifact_taper_samples", 75, forms.integer(1, "a positive integer (samples)"),
       "length of the Hann taper at both edges of a zeroed stretch", *_LFP, unit="samples"),
    # Ours: the phase needs a band (the reference API's default None meant no filter).
    _p("filter_type", "butter", _filter_type,
       "band-pass design: butter (second-order sections) or fir; FALSE for no filter", *_FILT),
    _p("filter_range", [0.5, 4], forms.band("[0.5, 4]"),
       "pass band of the LFP filter (the slow oscillation)", *_FILT, unit="Hz"),
    _p("n", 2, forms.integer(1, "a positive integer (filter order)"),
       "filter order, shared by the LFP and the miniscope filter as in the reference", *_FILT, *_MBAND),
    _p("fir_numtaps", None, forms.integer(3, "").optional("an integer >= 3, or empty for automatic"),
       "FIR length; empty = chosen from the sampling rate and the band (the reference passed n)", *_FILT,
       unit="taps"),
    _p("phase_from_raw_signal", False, BOOL,
       "take the Hilbert phase of the unfiltered LFP (the reference's defect, kept for comparison)",
       "lfp_phase_parameters"),
    _p("lfp_window_length", 30, _positive_s, "LFP spectrogram window", *_LSPEC, unit="s"),
    _p("lfp_window_step", 3, _positive_s, "LFP spectrogram step between windows", *_LSPEC, unit="s"),
    _p("lfp_freq_lims", [0, 50], forms.band("[0, 50]"), "frequency range of the LFP spectrogram", *_LSPEC,
       unit="Hz"),
    _p("lfp_time_bandwidth", 2, _time_bandwidth, "multitaper time-bandwidth product of the LFP spectrogram",
       *_LSPEC),
    # --- TTL synchronisation ----------------------------------------------------------------------------
    _p("delete_TTLs", True, BOOL, "drop the edges listed in `indices of TTL events to delete`", *_TTL),
    # Ours: gaps are repaired and reported as low-confidence periods (the reference API's default was False).
    _p("fix_TTL_gaps", True, BOOL, "fill frame times over TTL gaps by interpolation (flagged low-confidence)",
       *_TTL),
    _p("indices of TTL events to delete", [], TTL_INDICES,
       "spurious frame-sync edges to drop, as indices into the gap-filled edges", *_TTL),
    _p("ttl_gap_threshold_periods", 1.5,
       forms.number("a number > 1 (multiple of the frame period)", 1, strict=True),
       "an edge interval longer than this many frame periods is a gap (reference: fixed 0.065 s)", *_TTL,
       unit="frame periods"),
    # --- miniscope movie --------------------------------------------------------------------------------
    _p("denoise", False, BOOL, "remove V4 travelling bands and flicker before cropping", *_DEN),
    _p("centerHalfHeightToLeave", 90, forms.integer(0, "a non-negative integer (frequency bins)"),
       "half-height of the spectrum's centre strip the band notch leaves untouched", *_DEN, unit="bins"),
    _p("notchHalfWidth", 3, forms.integer(0, "a non-negative integer (frequency bins)"),
       "half-width of the notch around the vertical frequency axis", *_DEN, unit="bins"),
    _p("goodRadius", 2000, forms.number("a positive number (frequency bins)", 0, strict=True),
       "spectral radius beyond which frequencies are removed", *_DEN, unit="bins"),
    _p("frameStep", 10, forms.integer(1, "a positive integer (frames)"),
       "band quality is measured on every frameStep-th frame", *_DEN, unit="frames"),
    _p("cutoff", 3.0, _positive_hz, "low-pass cut-off of the frame-mean flicker correction", *_DEN,
       unit="Hz"),
    _p("butterOrder", 6, forms.integer(1, "a positive integer (filter order)"),
       "order of the flicker low-pass",
       *_DEN),
    # No boolean `crop`: cropping happens iff crop_coords is set; `crop` is the legacy coordinate column.
    _p("crop_coords", None, CROP_COORDS.optional(),
       "crop rectangle (x0, y0, x1, y1), origin at the bottom left; empty = uncropped", *_CROP, unit="px"),
    _p("require_crop_coords", False, BOOL, "fail instead of leaving a line without crop_coords uncropped",
       *_CROP),
    _p("detrend_method", "median", forms.choice("median", "linear", false_means_none=True),
       "remove the slow drift of each pixel: median or linear; FALSE for none", *_PRE),
    _p("df_over_f", False, BOOL, "convert the detrended movie to ΔF/F", *_PRE),
    _p("df_over_f_method", "delta_f_over_sqrt_f",
       forms.choice("delta_f_over_sqrt_f", "delta_f_over_f", "only_baseline"), "ΔF/F normalisation", *_PRE),
    _p("secs_window", 5, _positive_s, "running-baseline window of ΔF/F (uses the metadata frame rate)", *_PRE,
       unit="s"),
    _p("quantile_min", 8, forms.number("a percentile between 0 and 100", 0, 100),
       "percentile of each window taken as the baseline F", *_PRE, unit="%"),
    _p("apply_motion_correction", True, BOOL,
       "run NoRMCorre (the multimodal pipeline's default; the miniscope API's was FALSE)", *_MOT),
    _p("pw_rigid", True, BOOL, "piecewise-rigid correction after the rigid one", *_MOT, caiman=True),
    _p("shifts_opencv", True, BOOL, "resample with cubic interpolation (FALSE: Fourier shift)", *_MOT,
       caiman=True),
    _p("max_shifts", [15, 15], forms.int_pair(0, "(15, 15)"), "largest rigid shift searched (y, x)", *_MOT,
       unit="px", caiman=True),
    _p("gSig_filt", [7, 7], forms.int_pair(1, "(7, 7)"),
       "Gaussian width of the band-pass used to estimate shifts on one-photon frames", *_MOT, unit="px",
       caiman=True),
    _p("strides", [48, 48], forms.int_pair(1, "(48, 48)"), "patch spacing of piecewise-rigid correction",
       *_MOT, unit="px", caiman=True),
    _p("overlaps", [24, 24], forms.int_pair(0, "(24, 24)"), "patch overlap of piecewise-rigid correction",
       *_MOT, unit="px", caiman=True),
    _p("max_deviation_rigid", 7, forms.integer(0, "a non-negative integer (px)"),
       "largest deviation of a patch shift from the rigid shift", *_MOT, unit="px", caiman=True),
    _p("border_nan", "copy", BORDER_NAN,
       "pixels shifted in from outside the frame: copy, min, TRUE (NaN) or FALSE (mirror)", *_MOT,
       caiman=True),
    _p("parallel", False, BOOL, "FALSE in a line's row runs its heavy steps in one process", *_COMPUTE),
    _p("n_processes", 12, forms.integer(1, "a positive integer"),
       "worker processes of heavy steps (capped by the compute resource)", *_COMPUTE),
    # --- miniscope mean-fluorescence band ---------------------------------------------------------------
    _p("cut", [0.1, 1.5], CUT, "cut-off(s) of the mean-fluorescence filter", *_MBAND, unit="Hz"),
    _p("ftype", "butter", _ftype, "mean-fluorescence filter design", *_MBAND),
    _p("btype", "bandpass", forms.choice("bandpass", "lowpass", "highpass", "bandstop"),
       "mean-fluorescence filter type", *_MBAND),
    _p("inline", False, BOOL, "replace the mean fluorescence by its filtered version (as the reference)",
       *_MBAND),
    _p("phase_from_unfiltered", False, BOOL,
       "take the Hilbert phase of the unfiltered mean fluorescence (the reference's defect)",
       "miniscope_phase_parameters"),
    _p("window_length", 30, _positive_s, "mean-fluorescence spectrogram window", *_MSPEC, unit="s"),
    _p("window_step", 3, _positive_s, "mean-fluorescence spectrogram step", *_MSPEC, unit="s"),
    _p("freq_lims", [0, 15], forms.band("[0, 15]"), "mean-fluorescence spectrogram frequency range", *_MSPEC,
       unit="Hz"),
    _p("time_bandwidth", 2, _time_bandwidth, "mean-fluorescence multitaper time-bandwidth product", *_MSPEC),
    # --- CNMF-E (CaImAn names, the lab's defaults) -------------------------------------------------------
    _p("decay_time", 0.4, _positive_s, "indicator decay time (sets the AR(1) coefficient)", *_CNMFE, unit="s",
       caiman=True),
    _p("update_background_components", True, BOOL, "refit the ring background between updates", *_CNMFE,
       caiman=True),
    _p("method_deconvolution", "oasis", TEXT, "deconvolution method (only oasis is implemented)", *_CNMFE,
       caiman=True),
    _p("method_init", "corr_pnr", TEXT, "initialisation (only corr_pnr is implemented)", *_CNMFE,
       caiman=True),
    _p("K", None, forms.integer(1, "").optional("a positive integer, or empty for unbounded"),
       "most components per patch; empty = unbounded", *_CNMFE, caiman=True),
    _p("gSig", [7, 7], forms.int_pair(1, "(7, 7)"), "Gaussian width of a neuron (seed filter)", *_CNMFE,
       unit="px", caiman=True),
    _p("gSiz", [29, 29], forms.int_pair(1, "(29, 29)"), "neuron bounding box, about 4 gSig + 1", *_CNMFE,
       unit="px", caiman=True),
    _p("tsub", 2, _positive_int, "temporal down-sampling during initialisation", *_CNMFE, caiman=True),
    _p("ssub", 1, _positive_int, "spatial down-sampling during initialisation", *_CNMFE, caiman=True),
    _p("ssub_B", 2, _positive_int, "spatial down-sampling of the ring background", *_CNMFE, caiman=True),
    _p("ring_size_factor", 1.4, forms.number("a positive number", 0, strict=True),
       "ring radius relative to gSiz / 2", *_CNMFE, caiman=True),
    _p("min_corr", 0.8, _correlation, "smallest local correlation of a seed", *_CNMFE, caiman=True),
    _p("min_pnr", 10, forms.number("a non-negative number", 0), "smallest peak-to-noise ratio of a seed",
       *_CNMFE, caiman=True),
    _p("normalize_init", False, BOOL, "normalise before initialisation (not applicable to one-photon data)",
       *_CNMFE, caiman=True),
    _p("center_psf", True, BOOL, "zero-mean seed kernel (one-photon data)", *_CNMFE, caiman=True),
    _p("nb", 0, _non_negative_int, "global background components (0 = ring model, the only one here)",
       *_CNMFE, caiman=True),
    _p("p", 1, forms.integer(0, "a non-negative integer (AR order)"),
       "order of the autoregressive calcium model", *_CNMFE, caiman=True),
    _p("del_duplicates", True, BOOL, "keep a component only in the patch that owns its centre", *_CNMFE,
       caiman=True),
    _p("border_pix", 0, forms.integer(0, "a non-negative integer (px)"), "frame border excluded from seeds",
       *_CNMFE, unit="px", caiman=True),
    _p("low_rank_background", None, BOOL.optional("TRUE, FALSE or empty"),
       "low-rank background per patch (not applicable: CNMF-E uses the ring model)", *_CNMFE, caiman=True),
    _p("rf", 40, forms.integer(1, "a positive integer (px)"), "patch half-size (patches are 2 rf + 1 wide)",
       *_CNMFE, unit="px", caiman=True),
    _p("stride", 20, forms.integer(0, "a non-negative integer (px)"), "overlap of neighbouring patches",
       *_CNMFE, unit="px", caiman=True),
    _p("only_init", True, BOOL, "CaImAn's patch mode; here every patch runs the whole CNMF-E", *_CNMFE,
       caiman=True),
    _p("nb_patch", 0, _non_negative_int, "background components per patch", *_CNMFE, caiman=True),
    _p("min_SNR", 2.5, forms.number("a number"), "smallest trace SNR of a good component", *_CNMFE,
       caiman=True),
    _p("rval_thr", 0.85, _correlation, "smallest footprint-movie correlation of a good component", *_CNMFE,
       caiman=True),
    _p("use_cnn", False, BOOL, "CaImAn's CNN classifier (not available)", *_CNMFE, caiman=True),
    _p("merge_thr", 0.7, _correlation, "trace correlation above which overlapping components merge", *_CNMFE,
       caiman=True),
    # --- events and traces ------------------------------------------------------------------------------
    _p("derivative_for_estimates", "first", forms.choice("zeroth", "first", "second"),
       "which difference of C the event peaks are found on", *_EV),
    _p("event_height", 5, forms.number("a number"), "smallest peak height of an event (units of C)", *_EV),
    # Ours: a threshold in noise SDs of each trace (absolute heights depend on the trace scaling).
    _p("event_height_sd", None, forms.number("", 0, strict=True).optional("a positive number, or empty"),
       "event threshold in noise SDs of each trace, replacing event_height; empty = off", *_EV, unit="SD"),
    _p("reference_index_convention", False, BOOL,
       "report events at the derivative index, one frame early, as the reference did", *_EV),
    _p("frameWindow", None, forms.integer(1, "").optional("a positive integer (frames), or empty"),
       "z-score block length; empty = the whole trace", *_TRACE, unit="frames", reads=["zscored_traces"]),
    _p("framesb", 20, forms.integer(0, "a non-negative integer (frames)"),
       "event-triggered average: frames before each event", *_TRACE, unit="frames",
       reads=["event_triggered_averages"]),
    _p("framesa", 60, forms.integer(0, "a non-negative integer (frames)"),
       "event-triggered average: frames after each event", *_TRACE, unit="frames",
       reads=["event_triggered_averages"]),
    # --- phase locking ----------------------------------------------------------------------------------
    _p("exclude_low_confidence", True, BOOL,
       "leave events whose frame time was filled over a TTL gap out of the LFP statistics",
       "event_phase_parameters"),
    _p("bins", 18, _positive_int, "phase-histogram bins over [-pi, pi)", "phase_histogram_parameters"),
)
# fmt: on

#: Every parameter, by name.
PARAMETERS: Mapping[str, Parameter] = MappingProxyType({p.name: p for p in _TABLE})

#: Our defaults, by name. Read-only; list values must be copied before they are changed.
DEFAULT_PARAMETERS: Mapping[str, Any] = MappingProxyType({p.name: p.default for p in _TABLE})

#: The CaImAn ``CNMFParams`` names of the lab's file.
CAIMAN_PARAMETERS: frozenset[str] = frozenset(p.name for p in _TABLE if p.caiman)

#: Alternative column names -> parameter name. When both are set, the parameter's own column wins.
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "method": "df_over_f_method",  # the reference's miniscope API name
        "crop": "crop_coords",  # the lab file's legacy crop column (the reference's CLI ignored it)
    }
)

#: Reference parameters the platform does not use, with the reason. A row that sets one gets a note.
NOT_USED: Mapping[str, str] = MappingProxyType(
    {
        **dict.fromkeys(
            (
                "inspect_motion_correction",
                "plot_params",
                "remove_components_with_gui",
                "plot_channel",
                "plot_spectrogram",
                "plot_phases",
                "logging_level",
            ),
            "an interactive setting of the reference; the platform runs headless",
        ),
        **dict.fromkeys(
            (
                "compute_phases",
                "ca_events",
                "run_CNMFE",
                "find_calcium_events",
                "compute_miniscope_phase",
                "filter_miniscope_data",
                "filter_data",
                "compute_miniscope_spectrogram",
                "spectrogram",
                "only_experiment_events",
                "all_TTL_events",
            ),
            "a switch of the reference's pipelines; every product is an asset of its own",
        ),
        **dict.fromkeys(
            ("save_estimates", "save_CNMFE_estimates_filename", "save_CNMFE_params"),
            "products are always saved, under the product store",
        ),
        "time_range": "the whole recording is analysed; choose periods when analysing the products",
        "miniscope_filenames": "every N.avi of the device folder is read, in numeric order",
        "filenames": "every N.avi of the device folder is read, in numeric order",
    }
)

#: Columns that are not parameters: never used, never reported.
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
    }
)


def check_parameter(name: str, value: Any) -> Any:
    """Check a value against its parameter's form.

    Parameters
    ----------
    name
        Parameter name (the CSV column's canonical spelling).
    value
        The converted CSV cell or the Launchpad value.

    Returns
    -------
    Any
        The value in canonical form (tuples as lists, ``FALSE`` as None where allowed).

    Raises
    ------
    KeyError
        For an unknown name.
    ValueError
        When the value does not fit; the message is the expected form, and callers add the file, the
        line and the column.
    """
    try:
        form = PARAMETERS[name].form
    except KeyError:
        raise KeyError(f"unknown parameter {name!r}") from None
    try:
        return form.check(value)
    except forms.InvalidValue:
        raise ValueError(form.expected) from None


def group_parameters(group: str) -> tuple[str, ...]:
    """Names of the parameters of one group, in table order."""
    if group not in GROUPS:
        raise KeyError(f"unknown parameter group {group!r}; groups: {list(GROUPS)}")
    return tuple(p.name for p in _TABLE if group in p.groups)


def product_parameters(product: str) -> tuple[str, ...]:
    """Names of the parameters a product reads (of every group that lists it), in table order."""
    return tuple(p.name for p in _TABLE if product in p.products)


def markdown_table() -> str:
    """The parameter table as Markdown, one row per parameter (what the README shows).

    Returns
    -------
    str
        Columns: name, default, unit, expected form, products that read it, description.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [
        "| parameter | default | unit | expected | read by | what it does |",
        "|---|---|---|---|---|---|",
    ]
    for p in _TABLE:
        default = "empty" if p.default is None else repr(p.default)
        read_by = ", ".join(f"`{product}`" for product in p.products)
        rows.append(
            f"| `{p.name}` | `{cell(default)}` | {p.unit} | {cell(p.form.expected)} | {read_by} | "
            f"{cell(p.description)} |"
        )
    return "\n".join(rows) + "\n"
