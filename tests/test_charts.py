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


def test_heatmap_cells_per_cluster_feature():
    # The heatmap sends k x features cells.
    rng = np.random.default_rng(2)
    z = pd.DataFrame(
        rng.normal(size=(K, len(FEATURE_NAMES))),
        index=range(1, K + 1),
        columns=list(FEATURE_NAMES),
    )
    chart = charts.centroid_heatmap(z, names())
    assert len(chart.data) == K * len(FEATURE_NAMES)


def test_outcome_chart_rows_bounded():
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


@pytest.mark.parametrize("log_scale, expected", [(False, None), (True, "symlog")])
def test_value_scale_type(log_scale, expected):
    # Skewed labs get a symmetric log scale, other features a linear one.
    scale = charts.value_scale(pd.Series([0.01, 0.02, 5.0]), log_scale)
    assert scale.to_dict().get("type") == expected


@pytest.mark.parametrize("values", [[0.003, 0.02, 9.5], [0.5, 12.0, 300.0]])
def test_log_axis_ticks_span_values(values):
    # Log-axis ticks start at 0 and stop at the largest value.
    ticks = charts.value_axis(pd.Series(values), log_scale=True).to_dict()["values"]
    assert ticks[0] == 0.0
    assert max(ticks) <= max(values)
    assert len(ticks) >= 4


def test_linear_axis_has_default_ticks():
    # Linear axes leave tick placement to Vega-Lite.
    axis = charts.value_axis(pd.Series([1.0, 2.0]), log_scale=False).to_dict()
    assert "values" not in axis


def test_box_frame_all_missing_is_empty():
    """A feature with no value in any group gives an empty summary, not an error."""
    values = pd.Series([np.nan, np.nan, np.nan])

    summary = charts.box_frame(values, np.array([1, 1, 2]))

    assert summary.empty
