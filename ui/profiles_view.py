"""Sections of the Cluster Profiles page: table, heatmap, spreads, outcome."""

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core import charts
from core.algorithms import describe_origin
from core.clustering import ClusterResult
from core.cohort import Cohort
from core.export import to_safe_csv
from core.profiles import (
    CONTINUITY_NOTE,
    OUTCOME_FOLLOWS_BIOMARKERS_NOTE,
    AssociationResult,
    cluster_profiles,
    outcome_association,
    outcome_by_cluster,
)
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES
from ui import state
from ui.state import AppSettings
from ui.widgets import escape_markdown, show_basis


@dataclass(frozen=True)
class Profiles:
    """Per-cluster statistics of one clustering run."""

    table: pd.DataFrame
    outcome: pd.DataFrame | None
    association: AssociationResult | None


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _profiles_cached(
    _result: ClusterResult, _cohort: Cohort, key: str, settings: AppSettings
) -> Profiles:
    features = _cohort.features.loc[_result.index]
    table = cluster_profiles(features, _result.labels)
    table.insert(0, "name", [_result.names[int(c)] for c in table.index])
    if _cohort.outcome is None:
        return Profiles(table, None, None)

    outcome = _cohort.outcome.loc[_result.index]
    rates = outcome_by_cluster(outcome, _result.labels)
    return Profiles(table, rates, outcome_association(outcome, _result.labels))


def compute_profiles(result: ClusterResult, cohort: Cohort, settings) -> Profiles:
    """Compute (or fetch from the cache) the profiles of the current clustering."""
    return _profiles_cached(result, cohort, cohort.fingerprint, settings)


def summary_section(result: ClusterResult) -> None:
    """Show the algorithm, k and the structure verdict of the clusters shown."""
    st.caption(describe_origin(result))
    label, _ = result.verdict
    silhouette = "" if pd.isna(result.silhouette) else f"{result.silhouette:.2f} "
    st.markdown(
        f"k = {result.k} clusters; mean silhouette {silhouette}({label}). "
        "Change k and the other settings on the Clustering page."
    )


def table_section(profiles: Profiles) -> None:
    """Show one row per cluster with its name, size, share and medians."""
    st.subheader("Clusters")
    table = profiles.table
    medians = [c for c in table.columns if c.endswith("_median")]
    summary = table[["name", "size", "share", "gender_share_male", *medians]].copy()
    summary[["share", "gender_share_male"]] *= 100
    config = {
        "name": st.column_config.TextColumn("Name"),
        "size": st.column_config.NumberColumn("Patients", format="%d"),
        "share": st.column_config.NumberColumn("Share", format="%.1f %%"),
        "gender_share_male": st.column_config.NumberColumn("Men", format="%.1f %%"),
    }
    for column in medians:
        name = column.removesuffix("_median")
        label = f"{FEATURE_BY_NAME[name].label}, median ({FEATURE_BY_NAME[name].unit})"
        config[column] = st.column_config.NumberColumn(label, format="%.4g")
    st.dataframe(summary.rename_axis("Cluster"), column_config=config)
    st.download_button(
        "Download the profile table (CSV)",
        data=to_safe_csv(table.reset_index()),
        file_name="cluster_profiles.csv",
        mime="text/csv",
        key=state.PROFILES_DOWNLOAD,
        on_click="ignore",
    )


@dataclass(frozen=True)
class ProfileCharts:
    """Vega-Lite specs of the page's charts, from ``state.vega_lite_spec``."""

    heatmap: dict
    boxes: tuple[dict, ...]
    outcome: dict | None


# Features drawn as box plots; gender is summarised in the table instead.
BOX_FEATURES = tuple(name for name in FEATURE_NAMES if name != "gender")


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def _charts_cached(
    _result: ClusterResult,
    _cohort: Cohort,
    _profiles: Profiles,
    key: str,
    settings: AppSettings,
) -> ProfileCharts:
    heatmap = charts.centroid_heatmap(_result.z_scores, _result.names)

    features = _cohort.features.loc[_result.index]
    boxes = [
        charts.box_chart(
            features[name],
            _result.labels,
            name,
            log_scale=FEATURE_BY_NAME[name].skewed,
        )
        for name in BOX_FEATURES
    ]

    outcome = None
    if _profiles.outcome is not None:
        outcome = charts.outcome_rate_chart(_profiles.outcome, _result.names)
        outcome = state.vega_lite_spec(outcome)
    return ProfileCharts(
        state.vega_lite_spec(heatmap),
        tuple(state.vega_lite_spec(box) for box in boxes),
        outcome,
    )


def compute_charts(
    result: ClusterResult, cohort: Cohort, profiles: Profiles, settings
) -> ProfileCharts:
    """Build (or fetch from the cache) the chart specs of the current clustering.

    ``profiles`` must be ``compute_profiles`` of the same result and settings.
    """
    return _charts_cached(result, cohort, profiles, cohort.fingerprint, settings)


def heatmap_section(specs: ProfileCharts) -> None:
    """Show each cluster's centre in standard deviations from the cohort mean."""
    st.subheader("Cluster centres (z-scores)")
    st.vega_lite_chart(spec=specs.heatmap)
    st.caption(
        "Mean z-score of the cluster's members: 0 is the cohort mean, +1 one "
        "standard deviation above it. Skewed labs are log-transformed first when "
        "the clustering does so."
    )


def spread_section(specs: ProfileCharts) -> None:
    """Show box plots of every feature by cluster, from server-side quantiles."""
    st.subheader("Distributions by cluster")
    st.caption(
        "Rows are cluster numbers. Box: 25th to 75th percentile; line: median; "
        "whiskers: 5th to 95th. Gender is summarised as the share of men in the "
        "table above. Skewed labs use a symmetric log axis."
    )
    columns = st.columns(2)
    for position, spec in enumerate(specs.boxes):
        columns[position % 2].vega_lite_chart(spec=spec, width="stretch")


def outcome_section(profiles: Profiles, specs: ProfileCharts, caption: str) -> None:
    """Show the outcome rate per cluster, the relative risks and the test."""
    st.subheader("Outcome by cluster")
    if profiles.outcome is None:
        st.info(
            "This cohort has no outcome column, so outcome rates, relative risks "
            "and the association test are not shown. Map an outcome column on "
            "the Data page to see them.",
            icon=":material/info:",
        )
        return

    rates, association = profiles.outcome, profiles.association
    st.caption("The outcome did not shape the clusters; it only describes them.")
    st.vega_lite_chart(spec=specs.outcome)
    st.dataframe(
        _rates_display(rates).rename_axis("Cluster"), column_config=RATE_COLUMNS
    )
    st.markdown(f"**{association.sentence}**")
    if association.warning:
        st.warning(association.warning)
    st.info(OUTCOME_FOLLOWS_BIOMARKERS_NOTE, icon=":material/lightbulb:")
    show_basis("outcome rates and test", _outcome_basis(rates, association, caption))


RATE_COLUMNS = {
    "n": st.column_config.NumberColumn("Patients, outcome known", format="%d"),
    "events": st.column_config.NumberColumn("Heart attacks", format="%d"),
    "rate": st.column_config.NumberColumn("Rate", format="%.1f %%"),
    "rate_low": st.column_config.NumberColumn("Rate, 95 % CI low", format="%.1f %%"),
    "rate_high": st.column_config.NumberColumn("Rate, 95 % CI high", format="%.1f %%"),
    "relative_risk": st.column_config.NumberColumn(
        "Relative risk vs rest", format="%.2f"
    ),
    "rr_low": st.column_config.NumberColumn("RR, 95 % CI low", format="%.2f"),
    "rr_high": st.column_config.NumberColumn("RR, 95 % CI high", format="%.2f"),
}


def _rates_display(rates: pd.DataFrame) -> pd.DataFrame:
    # Percentages for display only; the download keeps the fractions.
    display = rates[list(RATE_COLUMNS)].copy()
    display[["rate", "rate_low", "rate_high"]] *= 100
    return display


def _outcome_basis(
    rates: pd.DataFrame, association: AssociationResult, caption: str
) -> list[str]:
    known = int(rates["n"].sum())
    unknown = int(rates["unknown"].sum())
    return [
        caption,
        f"{known:,} patients with a known outcome; {unknown:,} unknown left out.",
        f"Cohort outcome rate {rates['cohort_rate'].iloc[0]:.1%}.",
        "Rates with Wilson 95 % score intervals; relative risk of each cluster "
        "against the rest of the cohort with Katz 95 % log intervals.",
        escape_markdown(CONTINUITY_NOTE),
        f"Test: {association.test}, statistic {association.statistic:.3g}, "
        f"{association.dof} degrees of freedom, p = {association.p_value:.3g}.",
    ]
