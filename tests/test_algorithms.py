"""Tests for core.algorithms: GMM, Ward, HDBSCAN and their ClusterResult form."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

from core.algorithms import (
    LOOKUP_NOTE,
    NO_SILHOUETTE,
    UNASSIGNED,
    UNASSIGNED_NAME,
    as_cluster_result,
    describe_origin,
    gaussian_mixture,
    hdbscan,
    ward,
)
from core.clustering import ClusterSettings, fit_clusters
from core.errors import CohortError, NoClustersError
from core.lookup import assign_patient, nearest_centroid
from core.patient_report import settings_text
from core.schema import FEATURE_NAMES

USED = [
    "age",
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "blood_sugar",
    "ck_mb",
    "troponin",
]


@pytest.fixture(scope="module")
def blobs():
    X, truth = make_blobs(n_samples=300, centers=3, n_features=7, random_state=2)
    kmeans = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(X) + 1
    return X, truth, kmeans


def test_gmm_bic_picks_three(blobs):
    """The Gaussian mixture with the lowest BIC has three components."""
    X, _, kmeans = blobs
    result = gaussian_mixture(X, [2, 3, 4], 0, kmeans, USED)
    assert len(result.centroids_scaled) == 3
    assert result.table["bic"].idxmin() == 1


def test_gmm_bic_matches_sklearn(blobs):
    """The BIC column equals GaussianMixture.bic for the same seed."""
    X, _, kmeans = blobs
    result = gaussian_mixture(X, [2], 0, kmeans, USED)
    expected = GaussianMixture(2, covariance_type="full", random_state=0).fit(X).bic(X)
    assert result.table["bic"].item() == pytest.approx(expected)


@pytest.mark.parametrize("algorithm", ["gmm", "ward", "hdbscan"])
def test_ari_against_kmeans(blobs, algorithm):
    """On separated blobs every algorithm agrees with k-means (ARI 1)."""
    X, _, kmeans = blobs
    runs = {
        "gmm": lambda: gaussian_mixture(X, [3], 0, kmeans, USED),
        "ward": lambda: ward(X, 3, kmeans, USED),
        "hdbscan": lambda: hdbscan(X, kmeans, USED),
    }
    result = runs[algorithm]()
    assert result.ari_vs_kmeans == pytest.approx(
        adjusted_rand_score(kmeans, result.labels)
    )
    assert result.ari_vs_kmeans > 0.95


def test_labels_numbered_by_size(blobs):
    """Alternative clusters are numbered 1..k, largest first."""
    X, _, kmeans = blobs
    uneven = np.vstack([X[kmeans == 1], X[kmeans == 2][:60], X[kmeans == 3][:30]])
    result = ward(uneven, 3, np.ones(len(uneven), dtype=int), USED)
    sizes = np.bincount(result.labels)[1:]
    assert list(sizes) == sorted(sizes, reverse=True)


def test_centroids_are_member_means(blobs):
    """Each centroid is the mean of its members in the scaled space."""
    X, _, kmeans = blobs
    result = ward(X, 3, kmeans, USED)
    assert np.allclose(result.centroids_scaled[0], X[result.labels == 1].mean(axis=0))


def test_hdbscan_noise_is_unassigned(blobs):
    """HDBSCAN noise points get cluster 0, named 'unassigned'."""
    X, _, kmeans = blobs
    outliers = np.full((3, 7), 60.0) * np.array([1, -1, 1, -1, 1, -1, 1])
    result = hdbscan(np.vstack([X, outliers]), np.append(kmeans, [1, 1, 1]), USED)
    assert (result.labels[-3:] == UNASSIGNED).all()
    assert result.names[UNASSIGNED] == UNASSIGNED_NAME


def test_hdbscan_all_noise_has_no_centroid():
    """Uniform noise with a large minimum size leaves everyone unassigned."""
    X = np.random.default_rng(0).uniform(size=(200, 7))
    result = hdbscan(X, np.ones(200, dtype=int), USED, min_cluster_size=150)
    assert result.centroids_scaled.shape == (0, 7)
    assert "cannot place a patient" in result.note


@pytest.mark.parametrize("algorithm", ["ward", "hdbscan"])
def test_quadratic_algorithms_rejected_above_limit(blobs, algorithm):
    """Ward and HDBSCAN refuse cohorts above the size setting with the numbers."""
    X, _, kmeans = blobs
    with pytest.raises(
        CohortError, match="limited to 100 patients; this cohort has 300"
    ):
        if algorithm == "ward":
            ward(X, 3, kmeans, USED, limit=100)
        else:
            hdbscan(X, kmeans, USED, limit=100)


def test_lookup_by_nearest_alternative_centroid(blobs):
    """A point is placed in the alternative cluster with the nearest centroid."""
    X, _, kmeans = blobs
    result = ward(X, 3, kmeans, USED)
    clusters = list(range(1, 4))
    cluster, *_ = nearest_centroid(X[0], result.centroids_scaled, clusters)
    assert cluster == result.labels[0]


# --- alternative clusters as a ClusterResult --------------------------------


@pytest.fixture(scope="module")
def blob_features() -> pd.DataFrame:
    """Three seeded groups in plausible canonical units, shape (240, 8)."""
    X, _ = make_blobs(n_samples=240, centers=3, n_features=8, random_state=5)
    columns = {
        "age": 60 + 2 * X[:, 0],
        "gender": (X[:, 1] > np.median(X[:, 1])).astype(float),
        "heart_rate": 80 + 2 * X[:, 2],
        "systolic_bp": 140 + 2 * X[:, 3],
        "diastolic_bp": 80 + X[:, 4],
        "blood_sugar": 150 + 5 * X[:, 5],
        "ck_mb": np.exp(X[:, 6] / 3),
        "troponin": np.exp(X[:, 7] / 3) / 100,
    }
    return pd.DataFrame(columns, index=range(1, 241))[list(FEATURE_NAMES)]


@pytest.fixture(scope="module")
def kmeans_result(blob_features):
    settings = ClusterSettings(k=3, k_min=3, k_max=3, seed=1)
    return fit_clusters(blob_features, settings)


@pytest.fixture(scope="module")
def ward_alternative(kmeans_result):
    r = kmeans_result
    return ward(r.X, 3, r.labels, r.used_features)


@pytest.fixture(scope="module")
def with_noise(kmeans_result, ward_alternative):
    """Ward's clusters with the first 12 patients moved to no cluster."""
    labels = ward_alternative.labels.copy()
    labels[:12] = UNASSIGNED
    names = {**ward_alternative.names, UNASSIGNED: UNASSIGNED_NAME}
    return replace(ward_alternative, algorithm="hdbscan", labels=labels, names=names)


def test_as_cluster_result_labels(kmeans_result, ward_alternative, blob_features):
    """The result carries the alternative's labels, names and algorithm."""
    result = as_cluster_result(kmeans_result, ward_alternative, blob_features)
    assert np.array_equal(result.labels, ward_alternative.labels)
    assert result.names == ward_alternative.names
    assert result.algorithm == "ward"
    assert result.assignment_note == LOOKUP_NOTE


def test_as_cluster_result_keeps_kmeans(kmeans_result, ward_alternative, blob_features):
    """The k-means result itself is left as it was, with algorithm 'kmeans'."""
    before = kmeans_result.labels.copy()
    as_cluster_result(kmeans_result, ward_alternative, blob_features)
    assert np.array_equal(kmeans_result.labels, before)
    assert kmeans_result.algorithm == "kmeans"
    assert kmeans_result.assignment_note == ""


def test_as_cluster_result_centroids(kmeans_result, ward_alternative, blob_features):
    """Centroids are member medians in original units and member means scaled."""
    result = as_cluster_result(kmeans_result, ward_alternative, blob_features)
    labels = ward_alternative.labels
    for cluster in (1, 2, 3):
        members = labels == cluster
        medians = blob_features.loc[members].median()
        means = kmeans_result.X[members].mean(axis=0)
        assert np.allclose(result.centroids.loc[cluster], medians)
        assert np.allclose(result.centroids_scaled[cluster - 1], means)


def test_as_cluster_result_silhouette(kmeans_result, ward_alternative, blob_features):
    """The silhouette and the verdict are recomputed for the new labels."""
    result = as_cluster_result(kmeans_result, ward_alternative, blob_features)
    expected = silhouette_score(kmeans_result.X, ward_alternative.labels)
    assert result.silhouette == pytest.approx(expected)
    assert result.silhouette_estimated is False
    assert result.verdict[0] != NO_SILHOUETTE[0]


def test_as_cluster_result_distance_limits(
    kmeans_result, ward_alternative, blob_features
):
    """The 99th percentile of member distances uses the new member means."""
    result = as_cluster_result(kmeans_result, ward_alternative, blob_features)
    members = ward_alternative.labels == 2
    centre = kmeans_result.X[members].mean(axis=0)
    distances = np.linalg.norm(kmeans_result.X[members] - centre, axis=1)
    assert result.member_distance_p99[2] == pytest.approx(np.percentile(distances, 99))


def test_noise_is_not_a_centroid(kmeans_result, with_noise, blob_features):
    """Patients in no cluster get no centroid, no z-score row and no k."""
    result = as_cluster_result(kmeans_result, with_noise, blob_features)
    assert list(result.centroids.index) == [1, 2, 3]
    assert result.centroids_scaled.shape == (3, len(kmeans_result.used_features))
    assert list(result.z_scores.index) == [1, 2, 3]
    assert sorted(result.member_distance_p99) == [1, 2, 3]
    assert result.k == 3
    assert result.names[UNASSIGNED] == UNASSIGNED_NAME


def test_noise_left_out_of_centroid(kmeans_result, with_noise, blob_features):
    """A cluster's centroid is the mean of its members only, not of the noise."""
    result = as_cluster_result(kmeans_result, with_noise, blob_features)
    cluster = int(with_noise.labels[12])
    members = with_noise.labels == cluster
    expected = kmeans_result.X[members].mean(axis=0)
    assert np.allclose(result.centroids_scaled[cluster - 1], expected)


def test_noise_left_out_of_silhouette(kmeans_result, with_noise, blob_features):
    """The silhouette is computed over the patients in a cluster only."""
    result = as_cluster_result(kmeans_result, with_noise, blob_features)
    assigned = with_noise.labels != UNASSIGNED
    expected = silhouette_score(kmeans_result.X[assigned], with_noise.labels[assigned])
    assert result.silhouette == pytest.approx(expected)
    assert np.isnan(result.silhouette_per_patient[:12]).all()


def test_noise_patient_placed_in_a_cluster(kmeans_result, with_noise, blob_features):
    """A looked-up patient goes to the nearest member mean, never to group 0."""
    result = as_cluster_result(kmeans_result, with_noise, blob_features)
    patient = blob_features.iloc[0].to_dict()
    assignment = assign_patient(result, patient)
    expected, *_ = nearest_centroid(
        assignment.x_scaled, result.centroids_scaled, [1, 2, 3]
    )
    assert assignment.cluster == expected
    assert sorted(assignment.distances) == [1, 2, 3]


def test_all_noise_raises(kmeans_result, with_noise, blob_features):
    """Every patient in no cluster raises NoClustersError with the count."""
    labels = np.full(len(blob_features), UNASSIGNED)
    alternative = replace(
        with_noise,
        labels=labels,
        names={UNASSIGNED: UNASSIGNED_NAME},
        centroids_scaled=np.empty((0, len(kmeans_result.used_features))),
    )
    with pytest.raises(NoClustersError, match="left all 240 patients unassigned"):
        as_cluster_result(kmeans_result, alternative, blob_features)


def test_single_cluster_has_no_silhouette(kmeans_result, with_noise, blob_features):
    """One cluster beside the noise gives an undefined silhouette verdict."""
    labels = np.where(with_noise.labels == UNASSIGNED, UNASSIGNED, 1)
    alternative = replace(
        with_noise, labels=labels, names={1: "one", UNASSIGNED: UNASSIGNED_NAME}
    )
    result = as_cluster_result(kmeans_result, alternative, blob_features)
    assert np.isnan(result.silhouette)
    assert result.verdict == NO_SILHOUETTE
    assert result.k == 1


def test_length_mismatch_raises(kmeans_result, ward_alternative, blob_features):
    """Labels of another cohort are rejected with the three lengths."""
    with pytest.raises(ValueError, match="239 rows"):
        as_cluster_result(kmeans_result, ward_alternative, blob_features.iloc[1:])


def test_describe_origin_counts_noise(kmeans_result, with_noise, blob_features):
    """The origin sentence names the algorithm and counts unassigned patients."""
    result = as_cluster_result(kmeans_result, with_noise, blob_features)
    text = describe_origin(result)
    assert text.startswith("Clusters made by HDBSCAN")
    assert "12 of 240 patients are in no cluster" in text


def test_describe_origin_kmeans(kmeans_result):
    """The k-means result is described as k-means, with no unassigned count."""
    text = describe_origin(kmeans_result)
    assert text.startswith("Clusters made by k-means.")
    assert "no cluster" not in text


def test_report_settings_name_algorithm(kmeans_result, ward_alternative, blob_features):
    """The printable summary's settings name the algorithm and the assignment."""
    result = as_cluster_result(kmeans_result, ward_alternative, blob_features)
    text = settings_text(result)
    assert text["Clustering algorithm"].startswith("Agglomerative clustering")
    assert text["Patient assignment"] == LOOKUP_NOTE
