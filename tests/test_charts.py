"""Chart builders send bounded, server-summarised data whatever the cohort size."""

import altair as alt
import numpy as np
import pandas as pd
import pytest

from core import charts
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


@pytest.mark.parametrize("feature", FEATURE_NAMES)
def test_histogram_sends_bins_not_rows(cohort, feature):
    # A histogram of 100,000 values sends at most DEFAULT_BINS rows.
    features, _ = cohort
    chart = charts.histogram_chart(features[feature], feature)
    assert data_rows(chart) <= charts.DEFAULT_BINS


@pytest.mark.parametrize("log_bins", [False, True])
def test_histogram_counts_every_finite_value(cohort, log_bins):
    # Bin counts add up to the number of finite values, NaN left out.
    features, _ = cohort
    values = features["troponin"].copy()
    values.iloc[:10] = np.nan
    frame = charts.histogram_frame(values, bins=25, log_bins=log_bins)
    assert frame["count"].sum() == values.notna().sum()


def test_histogram_of_no_values_is_empty():
    # A column with no finite value gives an empty frame, not an error.
    frame = charts.histogram_frame(pd.Series([np.nan, np.nan]))
    assert frame.empty


@pytest.mark.parametrize("max_points", [500, charts.MAX_SCATTER_POINTS])
def test_pca_map_is_sampled(cohort, max_points):
    # The PCA map sends at most max_points rows for a 100,000-row matrix.
    features, labels = cohort
    chart = charts.pca_chart(features.to_numpy(), labels, names(), max_points)
    assert data_rows(chart) == max_points


def test_pca_title_states_sample_size(cohort):
    # The title says how many of all patients are drawn.
    features, labels = cohort
    chart = charts.pca_chart(features.to_numpy(), labels, names(), 1_000)
    assert f"1,000 of {N_PATIENTS:,}" in chart.title


def test_pca_sample_is_seeded(cohort):
    # The same seed draws the same sample.
    features, labels = cohort
    first, _ = charts.pca_frame(features.to_numpy(), labels, 300, seed=3)
    second, _ = charts.pca_frame(features.to_numpy(), labels, 300, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_pca_small_cohort_is_not_sampled():
    # Below max_points every patient is drawn.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 3))
    frame, _ = charts.pca_frame(X, np.ones(50, dtype=int), max_points=100)
    assert len(frame) == 50


@pytest.mark.parametrize("feature", ["age", "troponin"])
def test_box_chart_sends_one_row_per_cluster(cohort, feature):
    # Box plots send quantiles: one row per cluster.
    features, labels = cohort
    chart = charts.box_chart(features[feature], labels, feature, names())
    assert len(chart.data) == K


def test_box_frame_matches_numpy_quantiles(cohort):
    # The median column equals numpy's median of each cluster.
    features, labels = cohort
    frame = charts.box_frame(features["age"], labels).set_index("group")
    expected = np.median(features["age"].to_numpy()[labels == 2])
    assert frame.loc[2, "median"] == pytest.approx(expected)


def test_centroid_heatmap_has_one_cell_per_cluster_and_feature():
    # The heatmap sends k x features cells.
    rng = np.random.default_rng(2)
    z = pd.DataFrame(
        rng.normal(size=(K, len(FEATURE_NAMES))),
        index=range(1, K + 1),
        columns=list(FEATURE_NAMES),
    )
    chart = charts.centroid_heatmap(z, names())
    assert len(chart.data) == K * len(FEATURE_NAMES)


def test_sweep_chart_has_one_row_per_k_and_criterion():
    # The sweep panels send one row per k and criterion.
    rng = np.random.default_rng(3)
    ks = list(range(2, 11))
    sweep = pd.DataFrame({"k": ks})
    for criterion in charts.SWEEP_CRITERIA:
        sweep[criterion] = rng.random(len(ks))
    chart = charts.sweep_chart(sweep, recommended_k=4)
    assert data_rows(chart) == len(ks) * len(charts.SWEEP_CRITERIA)


def test_outcome_chart_sends_one_row_per_cluster_and_the_rule():
    # The outcome chart sends at most k rows per layer plus the cohort rate.
    rates = pd.DataFrame(
        {
            "rate": [0.2, 0.5, 0.9],
            "rate_low": [0.1, 0.4, 0.8],
            "rate_high": [0.3, 0.6, 0.95],
            "cohort_rate": [0.5, 0.5, 0.5],
        },
        index=pd.Index([1, 2, 3], name="cluster"),
    )
    chart = charts.outcome_rate_chart(rates, names(3))
    assert data_rows(chart) <= 3 * 2 + 1


def test_distance_chart_marks_assigned_cluster():
    # Exactly one bar is marked as the assigned cluster.
    distances = pd.Series([1.5, 0.7, 2.1], index=[1, 2, 3])
    chart = charts.distance_chart(distances, assigned=2, names=names(3))
    assert chart.data["assigned"].sum() == 1


def test_patient_chart_sends_one_row_per_feature(cohort):
    # The patient-against-cluster chart sends summary rows, not cluster rows.
    features, labels = cohort
    members = features.loc[labels == 1]
    patient = {name: 1.0 for name in FEATURE_NAMES if name != "gender"}
    chart = charts.patient_against_cluster_chart(members, patient)
    # Each feature's layers share one summary row, so the total is bounded by
    # features x layers whether or not Altair hoists the data to the layer.
    assert data_rows(chart) <= 4 * len(patient)


@pytest.mark.parametrize("log_scale, expected", [(False, None), (True, "symlog")])
def test_value_scale_type(log_scale, expected):
    # Skewed labs get a symmetric log scale, other features a linear one.
    scale = charts.value_scale(pd.Series([0.01, 0.02, 5.0]), log_scale)
    assert scale.to_dict().get("type") == expected
