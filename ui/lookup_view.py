"""Sections of the Patient Lookup page: the form and what it returns."""

import math
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from core import cluster_charts
from core.algorithms import ALGORITHMS, describe_origin
from core.clustering import ClusterResult
from core.cohort import Cohort
from core.lookup import (
    Assignment,
    nearest_patients,
    patient_percentiles,
    reference_flags,
)
from core.patient_report import build_report, render_html, report_file_name
from core.reference import reference_table
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, PATIENT_ID, feature_label
from ui import state
from ui.state import AppSettings
from ui.widgets import DISCLAIMER, escape_markdown, show_basis

PICK_LIMIT = 2_000
GENDER_CHOICES = [1.0, 0.0]
OUTCOME_TEXT = {1.0: "positive", 0.0: "negative"}


def _input_key(name: str) -> str:
    return f"{state.LOOKUP_PREFIX}{name}"


def _help_text(name: str) -> str:
    feature = FEATURE_BY_NAME[name]
    if name == "gender":
        return "1 for male, 0 for female."
    upper = "no upper limit" if math.isinf(feature.upper) else f"{feature.upper:g}"
    return (
        f"Plausible range {feature.lower:g} to {upper} {feature.unit}; values "
        "outside it are data-entry errors. Default: the cohort median."
    )


def _prefill_from_row(features: pd.DataFrame) -> None:
    row = st.session_state.get(state.LOOKUP_PICK)
    if row is None:
        return
    for name in FEATURE_NAMES:
        value = features.at[row, name]
        if name == "gender" and pd.isna(value):
            continue
        st.session_state[_input_key(name)] = None if pd.isna(value) else float(value)


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _medians_cached(_features: pd.DataFrame, key: str, settings: AppSettings):
    return _features.median()


def form_defaults(
    features: pd.DataFrame, cohort: Cohort, settings: AppSettings
) -> pd.Series:
    """Return (or fetch from the cache) the median of each clustered feature.

    ``features`` are the cohort's rows clustered with ``settings``.
    """
    return _medians_cached(features, cohort.fingerprint, settings)


def pick_section(features: pd.DataFrame) -> None:
    """Offer a cohort row whose values prefill the form."""
    rows = list(features.index[:PICK_LIMIT])
    st.selectbox(
        "Prefill from a cohort patient (row number)",
        [None, *rows],
        format_func=lambda row: "(cohort medians)" if row is None else f"row {row}",
        key=state.LOOKUP_PICK,
        on_change=_prefill_from_row,
        args=(features,),
        help=f"The first {PICK_LIMIT:,} rows kept for clustering are offered.",
    )


def form_section(medians: pd.Series) -> dict[str, float | None] | None:
    """Show the eight inputs in a form; return the values when submitted."""
    values: dict[str, float | None] = {}
    with st.form(state.LOOKUP_FORM):
        columns = st.columns(4)
        for position, name in enumerate(FEATURE_NAMES):
            with columns[position % 4]:
                values[name] = _input(name, medians[name])
        submitted = st.form_submit_button("Place the patient", key=state.LOOKUP_SUBMIT)
    return values if submitted else None


def _input(name: str, median: float) -> float | None:
    key = _input_key(name)
    if name == "gender":
        st.session_state.setdefault(key, 1.0 if median >= 0.5 else 0.0)
        return st.selectbox(
            feature_label(name),
            GENDER_CHOICES,
            format_func=lambda v: "male (1)" if v == 1.0 else "female (0)",
            key=key,
            help=_help_text(name),
        )
    st.session_state.setdefault(key, float(median))
    return st.number_input(
        feature_label(name), value=None, format="%g", key=key, help=_help_text(name)
    )


def origin_section(result: ClusterResult) -> None:
    """Show which algorithm made the clusters and how a patient is placed."""
    st.caption(describe_origin(result))
    if result.assignment_note:
        st.caption(result.assignment_note)


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _distance_spec_cached(
    distances: tuple[tuple[int, float], ...],
    cluster: int,
    names: tuple[tuple[int, str], ...],
) -> dict:
    series = pd.Series(dict(distances)).sort_index()
    chart = cluster_charts.distance_chart(series, cluster, dict(names))
    return state.vega_lite_spec(chart)


def distance_spec(assignment: Assignment, result: ClusterResult) -> dict:
    """Build (or fetch from the cache) the spec of the patient's distances."""
    distances = tuple(sorted(assignment.distances.items()))
    names = tuple(sorted(result.names.items()))
    return _distance_spec_cached(distances, assignment.cluster, names)


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _patient_spec_cached(
    _members: pd.DataFrame,
    key: str,
    settings: AppSettings,
    cluster: int,
    plotted: dict[str, float],
) -> dict:
    chart = cluster_charts.patient_against_cluster_chart(_members, plotted)
    return state.vega_lite_spec(chart)


def patient_spec(
    members: pd.DataFrame,
    plotted: dict[str, float],
    cluster: int,
    cohort: Cohort,
    settings: AppSettings,
) -> dict:
    """Build (or fetch from the cache) the spec of the patient against a cluster.

    ``members`` are the rows of ``cluster`` in the clustering made with
    ``settings``; ``plotted`` maps each feature drawn to the patient's value.
    """
    key = cohort.fingerprint
    return _patient_spec_cached(members, key, settings, cluster, plotted)


def assignment_section(
    assignment: Assignment, result: ClusterResult, caption: str
) -> None:
    """Show the assigned cluster, the distances and any warning."""
    st.subheader(f"Cluster {assignment.cluster}: {assignment.name}")
    if assignment.between_clusters:
        st.warning(
            f"Between clusters: the patient is almost as close to cluster "
            f"{assignment.runner_up} ({result.names[assignment.runner_up]}) as to "
            f"cluster {assignment.cluster}, so the assignment is uncertain.",
            icon=":material/compare_arrows:",
        )
    for warning in assignment.warnings:
        st.warning(f"Out of distribution: {warning}", icon=":material/warning:")

    st.vega_lite_chart(spec=distance_spec(assignment, result))
    show_basis(
        "cluster assignment",
        [
            caption,
            f"k = {result.k} clusters by {ALGORITHMS[result.algorithm]} on "
            f"{len(result.labels):,} patients.",
            "The patient is scaled with the fitted pipeline and assigned to the "
            "nearest centre (Euclidean distance in scaled units).",
            "Between clusters when the second-nearest centre is less than 10 % "
            "farther than the nearest.",
            "Out of distribution when the distance to the centre exceeds the 99th "
            "percentile of the cluster members' distances, or a value lies outside "
            "the fitted cohort's range.",
        ],
    )


def percentile_section(
    patient: dict[str, float],
    assignment: Assignment,
    result: ClusterResult,
    cohort: Cohort,
    settings: AppSettings,
    caption: str,
) -> None:
    """Show the patient's percentiles and values against the cluster's spread."""
    st.subheader("Compared with the cohort and the cluster")
    features = cohort.features.loc[result.index]
    table = patient_percentiles(features, result.labels, patient, assignment.cluster)
    table.index = [feature_label(name) for name in table.index]
    config = {
        name: st.column_config.NumberColumn(name.replace("_", " "), format="%.0f")
        for name in ("cohort_percentile", "cluster_percentile")
    }
    st.dataframe(table, column_config=config)

    members = features.loc[result.labels == assignment.cluster]
    plotted = {name: patient[name] for name in FEATURE_NAMES if name != "gender"}
    spec = patient_spec(members, plotted, assignment.cluster, cohort, settings)
    st.vega_lite_chart(spec=spec)
    st.caption(
        f"Red point: the patient. Bar: 25th to 75th percentile of cluster "
        f"{assignment.cluster} ({len(members):,} patients); line: its 5th to 95th."
    )
    show_basis(
        "percentiles",
        [
            caption,
            f"Cohort percentiles over {len(features):,} clustered patients; cluster "
            f"percentiles over the {len(members):,} patients of cluster "
            f"{assignment.cluster}.",
            "Percentile of the patient's value with ties counted half "
            "(scipy.stats.percentileofscore, kind 'mean'); missing values ignored.",
        ],
    )


def neighbours_section(
    patient: dict[str, float], result: ClusterResult, cohort: Cohort, caption: str
) -> None:
    """Show the most similar cohort patients and their outcome rate."""
    st.subheader("Most similar patients in the cohort")
    outcome = cohort.outcome
    summary = nearest_patients(result, patient, outcome)
    if outcome is not None and summary.n_known:
        st.metric(
            f"Outcome rate among the {summary.n_known} nearest with a known outcome",
            f"{summary.rate:.0%}",
        )
        st.caption(
            f"{summary.events} of {summary.n_known}; Wilson 95 % interval "
            f"{summary.rate_low:.0%} to {summary.rate_high:.0%}."
        )
    elif outcome is None:
        st.info("The cohort has no outcome column, so no outcome rate is shown.")
    table = summary.table.rename_axis("row")
    table["outcome"] = table["outcome"].map(OUTCOME_TEXT)
    st.dataframe(table)
    show_basis(
        "similar patients",
        [
            caption,
            f"{len(summary.table)} nearest patients by Euclidean distance in the "
            "scaled space the clusters were fitted in.",
            "Outcome rate with its Wilson 95 % score interval.",
        ],
    )


def reference_editor() -> dict[str, float]:
    """Show the editable reference table; return the thresholds changed."""
    defaults = reference_table()
    editable = defaults[["id", "label", "comparison", "threshold", "unit", "source"]]
    with st.expander("Reference values (edit a threshold to match your assay)"):
        edited = st.data_editor(
            editable,
            hide_index=True,
            disabled=["id", "label", "comparison", "unit", "source"],
            key=state.REFERENCE_EDITOR,
        )
    overrides = {}
    for row, default in zip(
        edited.itertuples(index=False), defaults["threshold"], strict=True
    ):
        if pd.notna(row.threshold) and float(row.threshold) != float(default):
            overrides[row.id] = float(row.threshold)
    return overrides


def flags_section(patient: dict[str, float], overrides: dict[str, float]) -> None:
    """Show the reference-value flags the patient raises, with source."""
    st.subheader("Reference-value flags")
    flags = reference_flags(patient, overrides)
    if flags.empty:
        st.success("No value crosses a reference threshold.")
    for flag in flags.itertuples(index=False):
        changed = " (threshold edited)" if flag.id in overrides else ""
        st.markdown(
            f"**{flag.label}**: {flag.value:g} {flag.unit} "
            f"{escape_markdown(flag.comparison)} {flag.threshold:g} {flag.unit}"
            f"{changed}"
        )
        show_basis(
            flag.label, [f"Threshold {flag.threshold:g} {flag.unit}.", flag.source]
        )
    st.caption("A flag marks a value for attention; it is not a diagnosis.")


def _patient_label(cohort: Cohort) -> str | None:
    row = st.session_state.get(state.LOOKUP_PICK)
    if row is None:
        return None
    label = f"form prefilled from cohort row {row}"
    if PATIENT_ID in cohort.table.columns:
        label += f" (patient id {cohort.table.at[row, PATIENT_ID]})"
    return label + "; values as submitted"


def report_section(
    patient: dict[str, float],
    assignment: Assignment,
    result: ClusterResult,
    cohort: Cohort,
    overrides: dict[str, float],
) -> None:
    """Offer a printable summary of this lookup as a self-contained HTML file."""
    st.subheader("Printable summary")
    settings = state.current_settings()
    implausible_rows = (
        "excluded" if settings.exclude_implausible else "kept, cells imputed"
    )
    arguments = {
        "outcome": cohort.outcome,
        "overrides": dict(overrides),
        "cohort_name": state.current_source().display_name,
        "disclaimer": DISCLAIMER,
        "patient_label": _patient_label(cohort),
        "extra_settings": {"Rows with implausible values": implausible_rows},
    }
    features = cohort.features.loc[result.index]

    def build() -> str:
        # Runs when the button is clicked, on a separate thread; the charts
        # take a second or two to draw.
        report = build_report(result, features, patient, assignment, **arguments)
        return render_html(report)

    st.download_button(
        "Download printable summary (HTML)",
        data=build,
        file_name=report_file_name(datetime.now(UTC)),
        mime="text/html",
        key=state.REPORT_DOWNLOAD,
        on_click="ignore",
    )
    st.caption(
        "One HTML file with the values, cluster, distances, percentiles, similar "
        "patients' outcome rate, flags, settings and the disclaimer; it loads "
        "nothing from the network. Open it in a browser and print."
    )
