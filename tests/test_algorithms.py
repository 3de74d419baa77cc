"""Tests for core.algorithms: GMM by BIC, Ward, HDBSCAN noise and size limits."""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from core.algorithms import UNASSIGNED, UNASSIGNED_NAME, gaussian_mixture, hdbscan, ward
from core.errors import CohortError
from core.lookup import nearest_centroid

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
