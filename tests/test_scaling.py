"""Check that a large cohort takes the sampled paths and yields bounded charts.

On 100,000 synthetic patients the engine must estimate the silhouette on a
sample, fit MiniBatchKMeans, draw bootstrap resamples of a bounded size, and
every chart of the four pages must carry a bounded number of data rows. The
test asserts paths and sizes, never times. The sweep is cut to k = 2 and 3
with two gap reference sets to keep the run short; the size thresholds are
the defaults.
"""

import pandas as pd
import pytest
from sklearn.cluster import MiniBatchKMeans

from core import charts, cluster_charts
from core.cluster_charts import MAX_SCATTER_POINTS
from core.clustering import ClusterSettings, fit_clusters
from core.cohort import load_cohort
from core.demo import demo_csv_bytes, make_demo_cohort
from core.engine_settings import DEFAULTS
from core.lookup import assign_patient
from core.profiles import outcome_by_cluster
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES
from core.stability import bootstrap_stability

N_PATIENTS = 100_000
# Charts other than the PCA map send one row per bin, k, cluster or feature.
SMALL_CHART_ROWS = 200


@pytest.fixture(scope="module")
def cohort():
    data = demo_csv_bytes(make_demo_cohort(seed=11, n_patients=N_PATIENTS))
    return load_cohort(data, "large.csv")


@pytest.fixture(scope="module")
def result(cohort):
    settings = ClusterSettings(k_min=2, k_max=3, gap_references=2)
    return fit_clusters(cohort.features, settings)


def _max_rows(chart) -> int:
    datasets = chart.to_dict().get("datasets", {})
    return max((len(rows) for rows in datasets.values()), default=0)


def _patient(features: pd.DataFrame) -> dict[str, float]:
    complete = features.dropna()
    row = complete[complete["systolic_bp"] > complete["diastolic_bp"]].iloc[0]
    return {name: float(row[name]) for name in FEATURE_NAMES}


def _small_charts(cohort, result) -> dict[str, object]:
    features = cohort.features.loc[result.index]
    plotted = [name for name in FEATURE_NAMES if name != "gender"]
    patient = _patient(features)
    assignment = assign_patient(result, patient)
    rates = outcome_by_cluster(cohort.outcome.loc[result.index], result.labels)
    members = features.loc[result.labels == assignment.cluster]
    built = {
        f"histogram {name}": charts.histogram_chart(features[name], name)
        for name in FEATURE_NAMES
    }
    built |= {
        f"box {name}": charts.box_chart(
            features[name],
            result.labels,
            name,
            log_scale=FEATURE_BY_NAME[name].skewed,
        )
        for name in plotted
    }
    built["sweep"] = cluster_charts.sweep_chart(result.sweep, result.recommendation.k)
    built["heatmap"] = charts.centroid_heatmap(result.z_scores, result.names)
    built["outcome rate"] = charts.outcome_rate_chart(rates, result.names)
    built["distances"] = cluster_charts.distance_chart(
        pd.Series(assignment.distances), assignment.cluster, result.names
    )
    built["patient vs cluster"] = cluster_charts.patient_against_cluster_chart(
        members, {name: patient[name] for name in plotted}
    )
    return built


def test_large_cohort_uses_sampled_silhouette(result):
    # The final silhouette and every k of the sweep are sample estimates.
    assert len(result.labels) > DEFAULTS["silhouette_sample_above"]
    assert result.silhouette_estimated
    assert result.sweep["silhouette_estimated"].all()
    assert result.silhouette_per_patient is None


def test_large_cohort_uses_minibatch(result):
    assert len(result.labels) > DEFAULTS["minibatch_above"]
    assert isinstance(result.model, MiniBatchKMeans)


def test_large_cohort_bootstrap_is_subsampled(result):
    stability = bootstrap_stability(result.X, result.labels, seed=1, n_resamples=2)
    assert stability.sample_size == DEFAULTS["bootstrap_sample_above"]
    assert stability.sample_size < len(result.labels)


def test_pca_map_is_sampled(result):
    chart = cluster_charts.pca_chart(result.X, result.labels, result.names, seed=1)
    assert _max_rows(chart) == MAX_SCATTER_POINTS


def test_other_charts_have_few_rows(cohort, result):
    for name, chart in _small_charts(cohort, result).items():
        rows = _max_rows(chart)
        assert rows <= SMALL_CHART_ROWS, f"{name} sends {rows} data rows"


def test_histograms_send_one_row_per_bin(cohort):
    for name in FEATURE_NAMES:
        chart = charts.histogram_chart(cohort.features[name], name)
        assert _max_rows(chart) <= charts.DEFAULT_BINS, name


def test_box_plots_send_one_row_per_cluster(cohort, result):
    features = cohort.features.loc[result.index]
    for name in FEATURE_NAMES:
        chart = charts.box_chart(features[name], result.labels, name)
        assert _max_rows(chart) <= result.k, name
