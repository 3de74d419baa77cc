"""The engine's path from uploaded bytes to the data behind the four pages.

The steps call what the app calls. They read and check the upload, fit the
clusters through the ``st.cache_data`` wrapper of ``ui.state``, then prepare
each page's statistics, tables, CSV downloads and charts. Every chart is
serialised to Vega-Lite JSON, as Streamlit does. The Cluster Profiles and
Patient Lookup charts are built through those pages' ``st.cache_data``
wrappers in ``ui``. The pages run twice: a first visit, then a rerun in which
the cached fit, profiles and chart specs are hits. Bootstrap stability runs
on request in the app, so it is timed as its own step and kept out of the
page total.
"""

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import pandas as pd
import pyarrow

import core.clustering
from benchmarks.measure import Meter
from core import cluster_charts
from core.cohort import Cohort
from core.export import to_safe_csv
from core.lookup import (
    assign_patient,
    nearest_patients,
    patient_percentiles,
    reference_flags,
)
from core.schema import FEATURE_NAMES
from core.stability import bootstrap_stability

# Steps a first visit of the four pages needs, in order.
PAGE_STEPS = (
    "read and check",
    "cluster fit",
    "Data page",
    "Clustering page",
    "Cluster Profiles page",
    "Patient Lookup page",
)
RERUN_PREFIX = "rerun: "
CACHE_STEP = "cache hit"
SEED = 42


@dataclass
class ChartSize:
    """Bytes of one chart's Vega-Lite JSON and rows of its largest dataset."""

    page: str
    chart: str
    json_bytes: int
    max_rows: int
    seconds: float = 0.0


@dataclass
class PipelineOutput:
    """Objects built by the pipeline, kept for the naive comparisons."""

    cohort: Cohort
    result: object
    charts: list[ChartSize] = field(default_factory=list)


def quiet_streamlit() -> None:
    """Silence the "no runtime" warning of ``st.cache_data`` outside a server."""
    from streamlit import logger as streamlit_logger

    # Sets the level of Streamlit's loggers, including those created later.
    streamlit_logger.set_log_level(logging.ERROR)


@contextmanager
def _timed_calls(module, names: tuple[str, ...], seconds: dict[str, float]):
    # Wrap module-level functions so that the time spent in each is summed,
    # then restore them.
    originals = {name: getattr(module, name) for name in names}

    def wrap(name, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

        return timed

    for name, function in originals.items():
        setattr(module, name, wrap(name, function))
    try:
        yield seconds
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def fit_through_cache(cohort: Cohort):
    """Fit the default clustering through ``ui.state``'s ``st.cache_data`` wrapper.

    The wrapper is private to ``ui.state``; it is the function every page
    calls through ``fit_current``, which needs a session and so cannot run here.
    """
    from ui import state

    return state._fit_cached(cohort, cohort.fingerprint, state.AppSettings())


def _fit_step(meter: Meter, cohort: Cohort):
    with meter.step("cluster fit") as record:
        names = ("fit_transform", "sweep_k")
        with _timed_calls(core.clustering, names, record.notes):
            result = fit_through_cache(cohort)
    record.notes["fit_transform"] = record.notes.get("fit_transform", 0.0)
    record.notes["k"] = result.k
    record.notes["silhouette"] = round(float(result.silhouette), 4)
    record.notes["silhouette_estimated"] = bool(result.silhouette_estimated)
    record.notes["model"] = type(result.model).__name__
    return result


def _upload_steps(meter: Meter, data: bytes, filename: str) -> Cohort:
    # The upload path of ui.state.activate: read the file for the mapping form,
    # then build the cohort from that table through the st.cache_data wrapper.
    from ui import state

    with meter.step("read and check") as record:
        source, raw = state.inspect_source(state.make_source(data, filename))
        cohort = state.build_from_source(source, True, raw)
    record.notes["rows_read"] = cohort.report.rows_read
    record.notes["rows_kept"] = cohort.report.rows_kept
    return cohort


@contextmanager
def _part(parts: dict[str, float], name: str):
    start = time.perf_counter()
    try:
        yield
    finally:
        parts[name] = parts.get(name, 0.0) + time.perf_counter() - start


def _draw(parts, sizes: list[ChartSize], page: str, name: str, build) -> None:
    with _part(parts, "charts"):
        start = time.perf_counter()
        size = chart_size(page, name, build())
        size.seconds = time.perf_counter() - start
    sizes.append(size)


def chart_size(page: str, name: str, chart) -> ChartSize:
    """Serialise ``chart`` as Streamlit does and measure its data."""
    spec = chart.to_dict()
    rows = [len(values) for values in spec.get("datasets", {}).values()]
    return ChartSize(page, name, len(json.dumps(spec)), max(rows, default=0))


def example_patient(features: pd.DataFrame) -> dict[str, float]:
    """Return the first complete cohort row with systolic above diastolic."""
    complete = features.dropna()
    usable = complete[complete["systolic_bp"] > complete["diastolic_bp"]]
    return {name: float(usable.iloc[0][name]) for name in FEATURE_NAMES}


def data_page(cohort: Cohort, parts: dict, sizes: list[ChartSize]) -> None:
    """Compute what the Data page shows: rows, quality report, histograms."""
    from ui.data_view import ROWS_SHOWN, histogram_specs

    with _part(parts, "tables and downloads"):
        cohort.table.head(ROWS_SHOWN).copy()
        to_safe_csv(cohort.report.to_frame())

    def build() -> dict[str, dict]:
        specs = histogram_specs(cohort, cohort.fingerprint)
        return {
            f"histogram {name}": spec
            for name, spec in zip(FEATURE_NAMES, specs, strict=True)
        }

    _draw_specs(parts, sizes, "Data", build)


def clustering_page(cohort: Cohort, parts: dict, sizes: list[ChartSize]) -> None:
    """Compute what the Clustering page shows: sweep and PCA map.

    The assignments CSV is built only when its download button is clicked.
    """
    with _part(parts, "cached fit"):
        result = fit_through_cache(cohort)
    build = partial(cluster_charts.sweep_chart, result.sweep, result.recommendation.k)
    _draw(parts, sizes, "Clustering", "sweep", build)
    build = partial(
        cluster_charts.pca_chart, result.X, result.labels, result.names, seed=SEED
    )
    _draw(parts, sizes, "Clustering", "PCA map", build)


def spec_size(page: str, name: str, spec: dict) -> ChartSize:
    """Measure a cached Vega-Lite spec whose datasets are Arrow bytes.

    The datasets are decoded and counted as JSON records, so the sizes compare
    with those of ``chart_size``.
    """
    spec = dict(spec)
    datasets = spec.pop("datasets", {})
    json_bytes = len(json.dumps(spec))
    rows = [0]
    for data in datasets.values():
        records = pyarrow.ipc.open_stream(data).read_all().to_pylist()
        json_bytes += len(json.dumps(records, default=str))
        rows.append(len(records))
    return ChartSize(page, name, json_bytes, max(rows))


def _draw_specs(parts, sizes: list[ChartSize], page: str, build) -> None:
    # Build (or fetch from the app's cache) the named specs of one page. Specs
    # built by one call get no time of their own, so they are left out of the
    # "slowest chart" note.
    with _part(parts, "charts"):
        start = time.perf_counter()
        specs = build()
        seconds = time.perf_counter() - start
    for name, spec in specs.items():
        size = spec_size(page, name, spec)
        size.seconds = seconds if len(specs) == 1 else 0.0
        sizes.append(size)


def profiles_page(cohort: Cohort, parts: dict, sizes: list[ChartSize]) -> None:
    """Compute what the Cluster Profiles page shows, through its cached calls."""
    from ui import state
    from ui.profiles_view import BOX_FEATURES, compute_charts, compute_profiles

    settings = state.AppSettings()
    with _part(parts, "cached fit"):
        result = fit_through_cache(cohort)
    with _part(parts, "profiles and outcome"):
        profiles = compute_profiles(result, cohort, settings)
    with _part(parts, "tables and downloads"):
        to_safe_csv(profiles.table.reset_index())

    def build() -> dict[str, dict]:
        specs = compute_charts(result, cohort, profiles, settings)
        named = {"heatmap": specs.heatmap}
        named.update(
            {
                f"box {name}": box
                for name, box in zip(BOX_FEATURES, specs.boxes, strict=True)
            }
        )
        if specs.outcome is not None:
            named["outcome rate"] = specs.outcome
        return named

    _draw_specs(parts, sizes, "Profiles", build)


def lookup_page(cohort: Cohort, parts: dict, sizes: list[ChartSize]) -> None:
    """Place one cohort patient as the Patient Lookup page does."""
    from ui import state
    from ui.lookup_view import distance_spec, form_defaults, patient_spec

    settings = state.AppSettings()
    with _part(parts, "cached fit"):
        result = fit_through_cache(cohort)
    with _part(parts, "patient lookup"):
        features = cohort.features.loc[result.index]
        form_defaults(features, cohort, settings)
        patient = example_patient(features)
        assignment = assign_patient(result, patient)
        patient_percentiles(features, result.labels, patient, assignment.cluster)
        nearest_patients(result, patient, cohort.outcome)
        reference_flags(patient)

    build = partial(distance_spec, assignment, result)
    _draw_specs(parts, sizes, "Lookup", lambda: {"distances": build()})
    members = features.loc[result.labels == assignment.cluster]
    plotted = {name: patient[name] for name in FEATURE_NAMES if name != "gender"}
    build = partial(
        patient_spec, members, plotted, assignment.cluster, cohort, settings
    )
    _draw_specs(parts, sizes, "Lookup", lambda: {"patient vs cluster": build()})


PAGES = (
    ("Data", data_page),
    ("Clustering", clustering_page),
    ("Cluster Profiles", profiles_page),
    ("Patient Lookup", lookup_page),
)


def _page_steps(meter: Meter, cohort: Cohort, prefix: str) -> list[ChartSize]:
    sizes: list[ChartSize] = []
    for page, compute in PAGES:
        with meter.step(f"{prefix}{page} page") as record:
            compute(cohort, record.notes, sizes)
        timed = [s for s in sizes if s.page in page and s.seconds > 0]
        if timed:
            slowest = max(timed, key=lambda s: s.seconds)
            record.notes["slowest chart"] = f"{slowest.chart} {slowest.seconds:.2f} s"
    return sizes


def run_pipeline(meter: Meter, data: bytes, filename: str) -> PipelineOutput:
    """Run a first visit of every page, the reruns, then the stability."""
    cohort = _upload_steps(meter, data, filename)
    result = _fit_step(meter, cohort)
    sizes = _page_steps(meter, cohort, "")
    _page_steps(meter, cohort, RERUN_PREFIX)

    with meter.step(CACHE_STEP):
        fit_through_cache(cohort)
    with meter.step("stability") as record:
        stability = bootstrap_stability(result.X, result.labels, seed=SEED)
    record.notes["resamples"] = stability.n_resamples
    record.notes["sample_size"] = stability.sample_size
    return PipelineOutput(cohort, result, sizes)
