"""Tests for core.stability: Jaccard matching, bands, bootstrap and small clusters."""

import math

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from core.stability import (
    best_jaccard,
    bootstrap_stability,
    jaccard_verdict,
    small_clusters,
)


def kmeans_labels(X, k, seed=0):
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(X) + 1


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=200, centers=3, n_features=4, random_state=1)
    return X, kmeans_labels(X, 3)


def test_best_jaccard_hand_table():
    """Best-match Jaccard equals |A and B| / |A or B| counted by hand."""
    original = np.array([1, 1, 1, 2, 2])
    bootstrap = np.array([0, 0, 1, 1, 1])
    assert np.allclose(best_jaccard(original, bootstrap), [2 / 3, 2 / 3])


def test_best_jaccard_absent_cluster_nan():
    """A cluster with no resampled point gets NaN."""
    result = best_jaccard(np.array([1, 1, 3]), np.array([0, 0, 1]))
    assert math.isnan(result[1])


@pytest.mark.parametrize(
    ("value", "label"),
    [
        (0.50, "dissolved: not a stable cluster"),
        (0.59, "dissolved: not a stable cluster"),
        (0.60, "a pattern, but membership is uncertain"),
        (0.75, "a pattern, but membership is uncertain"),
        (0.76, "stable"),
        (0.85, "stable"),
        (0.86, "highly stable"),
        (float("nan"), "not assessed"),
    ],
)
def test_jaccard_bands(value, label):
    """Hennig's bands read a mean Jaccard as dissolved, pattern or stable."""
    assert jaccard_verdict(value) == label


@pytest.mark.parametrize(
    ("sizes", "flagged"),
    [
        ([980, 15, 5], [False, True, True]),
        ([91, 9], [False, True]),
        ([50, 50], [False, False]),
    ],
)
def test_small_clusters_flagged(sizes, flagged):
    """Clusters under 2 % of the cohort or under 10 patients are flagged."""
    labels = np.repeat(np.arange(1, len(sizes) + 1), sizes)
    assert small_clusters(labels).tolist() == flagged


def test_blobs_are_highly_stable(blobs):
    """Separated blobs keep their clusters in every resample."""
    X, labels = blobs
    result = bootstrap_stability(X, labels, n_resamples=10)
    assert result.mean_ari > 0.95
    assert (result.clusters["verdict"] == "highly stable").all()


def test_noise_less_stable_than_blobs(blobs):
    """k-means on uniform noise is less stable than on blobs."""
    X, labels = blobs
    noise = np.random.default_rng(0).uniform(size=(200, 4))
    on_noise = bootstrap_stability(noise, kmeans_labels(noise, 5), n_resamples=10)
    on_blobs = bootstrap_stability(X, labels, n_resamples=10)
    assert on_noise.mean_ari < on_blobs.mean_ari


def test_progress_callback_counts(blobs):
    """on_progress is called once per resample with (i, total)."""
    X, labels = blobs
    calls = []
    bootstrap_stability(
        X, labels, n_resamples=4, on_progress=lambda i, t: calls.append((i, t))
    )
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_same_seed_same_result(blobs):
    """The bootstrap is reproducible for a given seed."""
    X, labels = blobs
    noise = X + np.random.default_rng(3).normal(scale=3, size=X.shape)
    first = bootstrap_stability(noise, labels, seed=5, n_resamples=5)
    second = bootstrap_stability(noise, labels, seed=5, n_resamples=5)
    assert np.array_equal(first.ari, second.ari)


def test_large_cohort_subsamples(blobs):
    """Above the sample setting each resample draws that many patients."""
    X, labels = blobs
    result = bootstrap_stability(X, labels, n_resamples=2, sample_above=50)
    assert result.sample_size == 50


def test_cluster_table_sizes(blobs):
    """The cluster table reports each cluster's size and share."""
    X, labels = blobs
    table = bootstrap_stability(X, labels, n_resamples=2).clusters
    assert table["size"].tolist() == np.bincount(labels)[1:].tolist()
    assert table["share"].sum() == pytest.approx(1.0)
