"""Sweep, PCA and patient charts send bounded data whatever the cohort size."""

import altair as alt
import numpy as np
import pandas as pd
import pytest

from core import cluster_charts
from core.schema import FEATURE_NAMES

N_PATIENTS = 100_000
K = 4


@pytest.fixture(scope="module")
def cohort():
    """Seeded 100,000-patient feature table with cluster labels 1..K."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame(
        rng.lognormal(mean=1.0, sigma=0.8, size=(N_PATIENTS, len(FEATURE_NAMES))),
        columns=list(FEATURE_NAMES),
    )
    features["gender"] = rng.integers(0, 2, N_PATIENTS).astype(float)
    labels = rng.integers(1, K + 1, N_PATIENTS)
    return features, labels


def data_rows(chart) -> int:
    """Count the data rows a chart and all its sub-charts would send."""
    total = len(chart.data) if isinstance(chart.data, pd.DataFrame) else 0
    for attribute in ("layer", "vconcat", "hconcat"):
        for sub in getattr(chart, attribute, None) or []:
            total += data_rows(sub)
    if isinstance(getattr(chart, "spec", None), alt.TopLevelMixin | alt.LayerChart):
        total += data_rows(chart.spec)
    return total


def names(k: int = K) -> dict[int, str]:
    return {c: f"cluster {c}" for c in range(1, k + 1)}


@pytest.mark.parametrize("max_points", [500, cluster_charts.MAX_SCATTER_POINTS])
def test_pca_map_is_sampled(cohort, max_points):
    # The PCA map sends at most max_points rows for a 100,000-row matrix.
    features, labels = cohort
    chart = cluster_charts.pca_chart(features.to_numpy(), labels, names(), max_points)
    assert data_rows(chart) == max_points


def test_pca_title_states_sample_size(cohort):
    # The title states how many of all patients are drawn.
    features, labels = cohort
    chart = cluster_charts.pca_chart(features.to_numpy(), labels, names(), 1_000)
    assert f"1,000 of {N_PATIENTS:,}" in chart.title


def test_pca_sample_is_seeded(cohort):
    # The same seed draws the same sample.
    features, labels = cohort
    first, _ = cluster_charts.pca_frame(features.to_numpy(), labels, 300, seed=3)
    second, _ = cluster_charts.pca_frame(features.to_numpy(), labels, 300, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_pca_small_cohort_is_not_sampled():
    # Below max_points every patient is drawn.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    frame, _ = cluster_charts.pca_frame(X, np.ones(50, dtype=int), max_points=100)
    assert len(frame) == 50


def test_sweep_rows_per_k_criterion():
    # The sweep panels send one row per k and criterion.
    rng = np.random.default_rng(3)
    ks = list(range(2, 11))
    sweep = pd.DataFrame({"k": ks})
    for criterion in cluster_charts.SWEEP_CRITERIA:
        sweep[criterion] = rng.random(len(ks))
    chart = cluster_charts.sweep_chart(sweep, recommended_k=4)
    assert data_rows(chart) == len(ks) * len(cluster_charts.SWEEP_CRITERIA)


def test_distance_chart_marks_assigned_cluster():
    # Exactly one bar is marked as the assigned cluster.
    distances = pd.Series([1.5, 0.7, 2.1], index=[1, 2, 3])
    chart = cluster_charts.distance_chart(distances, assigned=2, names=names(3))
    assert chart.data["assigned"].sum() == 1


def test_patient_chart_sends_one_row_per_feature(cohort):
    # The patient-against-cluster chart sends summary rows, not cluster rows.
    features, labels = cohort
    members = features.loc[labels == 1]
    patient = {name: 1.0 for name in FEATURE_NAMES if name != "gender"}
    chart = cluster_charts.patient_against_cluster_chart(members, patient)
    # Each feature's layers share one summary row, so the total is bounded by
    # features x layers whether or not Altair hoists the data to the layer.
    assert data_rows(chart) <= 4 * len(patient)
