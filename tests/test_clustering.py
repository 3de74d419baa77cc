"""Tests for core.clustering and core.selection: sweep, k choice, fit, names."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, silhouette_score

from core.clustering import (
    SETTINGS,
    ClusterSettings,
    check_cohort_size,
    cluster_names,
    fit_clusters,
    gap_rule_k,
    gap_statistic,
    recommend_k,
    structure_verdict,
    sweep_k,
)
from core.errors import TooFewPatientsError
from core.preprocessing import PreprocessSettings
from core.schema import FEATURE_NAMES
from core.selection import elbow_k

NO_LOG = PreprocessSettings(log_transform=False)
USED = [name for name in FEATURE_NAMES if name != "gender"]


def blob_features(n=300, centers=3, seed=0, std=0.6):
    """Return a feature frame whose seven used columns hold make_blobs clusters."""
    X, truth = make_blobs(
        n_samples=n, centers=centers, n_features=7, cluster_std=std, random_state=seed
    )
    frame = pd.DataFrame(X * 10 + 100, columns=USED)
    frame.insert(1, "gender", np.random.default_rng(seed).integers(0, 2, n))
    return frame[list(FEATURE_NAMES)].astype(float), truth


@pytest.fixture(scope="module")
def blob_result():
    features, truth = blob_features()
    settings = ClusterSettings(k_max=6, preprocess=NO_LOG)
    return features, truth, fit_clusters(features, settings)


def test_blobs_recommend_true_k(blob_result):
    """Three separated blobs give a recommended k of 3."""
    _, _, result = blob_result
    assert result.recommendation.k == 3


def test_blobs_labels_match_truth(blob_result):
    """The k-means labels reproduce the generating blobs (ARI 1)."""
    _, truth, result = blob_result
    assert adjusted_rand_score(truth, result.labels) == pytest.approx(1.0)


def test_blobs_verdict_strong(blob_result):
    """Well separated blobs are judged as strong structure."""
    _, _, result = blob_result
    assert result.verdict[0] == "strong structure"


def test_blobs_gap_rule_agrees(blob_result):
    """The gap statistic rule also picks 3 on separated blobs."""
    _, _, result = blob_result
    assert result.recommendation.by_criterion["gap statistic (Tibshirani rule)"] == 3


def test_sweep_columns_follow_contract(blob_result):
    """The sweep has the documented columns, one row per candidate k."""
    _, _, result = blob_result
    expected = ["k", "silhouette", "inertia", "calinski_harabasz", "davies_bouldin"]
    assert list(result.sweep.columns[:7]) == expected + ["gap", "gap_se"]
    assert result.sweep["k"].tolist() == [2, 3, 4, 5, 6]


def test_sweep_silhouette_matches_sklearn():
    """Each sweep silhouette equals silhouette_score of an independent fit."""
    features, _ = blob_features(n=150, centers=4, seed=3, std=2.0)
    X = features[USED].to_numpy()
    sweep = sweep_k(X, [2, 4], seed=7, gap_references=2)
    for k in (2, 4):
        labels = KMeans(n_clusters=k, n_init=10, random_state=7).fit_predict(X)
        got = sweep.loc[sweep["k"] == k, "silhouette"].item()
        assert got == pytest.approx(silhouette_score(X, labels))


def test_sweep_inertia_matches_kmeans():
    """The sweep inertia equals KMeans.inertia_ for full k-means."""
    features, _ = blob_features(n=150, centers=4, seed=3, std=2.0)
    X = features[USED].to_numpy()
    sweep = sweep_k(X, [3], seed=7, gap_references=2)
    expected = KMeans(n_clusters=3, n_init=10, random_state=7).fit(X).inertia_
    assert sweep["inertia"].item() == pytest.approx(expected)


@pytest.mark.parametrize("references", [2, 5])
def test_gap_for_one_cluster_matches_hand_formula(references):
    """For k=1 the gap and s_k equal the Tibshirani formulas computed by hand."""
    X = np.random.default_rng(1).normal(size=(40, 3))
    rng = np.random.default_rng(11)
    refs = [rng.uniform(X.min(0), X.max(0), size=X.shape) for _ in range(references)]
    log_ref = np.log([((r - r.mean(0)) ** 2).sum() for r in refs])
    gap = log_ref.mean() - np.log(((X - X.mean(0)) ** 2).sum())
    se = log_ref.std() * np.sqrt(1 + 1 / references)
    table = gap_statistic(X, [1], seed=11, references=references)
    assert table["gap"].item() == pytest.approx(gap)
    assert table["gap_se"].item() == pytest.approx(se)


@pytest.mark.parametrize(
    ("gaps", "errors", "expected"),
    [
        ([0.1, 0.5, 0.52, 0.53], [0.05] * 4, 3),
        ([0.5, 0.4, 0.3, 0.2], [0.01] * 4, 2),
        ([0.1, 0.2, 0.3, 0.4], [0.01] * 4, 5),
    ],
)
def test_gap_rule_hand_tables(gaps, errors, expected):
    """gap_rule_k picks the smallest k with gap(k) >= gap(k+1) - s(k+1)."""
    sweep = pd.DataFrame({"k": [2, 3, 4, 5], "gap": gaps, "gap_se": errors})
    assert gap_rule_k(sweep) == expected


def test_elbow_hand_table():
    """The elbow is the k farthest below the chord of normalised inertia."""
    sweep = pd.DataFrame({"k": [2, 3, 4, 5, 6], "inertia": [100, 40, 30, 25, 22]})
    assert elbow_k(sweep) == 3


def test_recommend_k_lists_agreeing_criteria():
    """recommend_k takes the silhouette maximum and names who disagrees."""
    sweep = pd.DataFrame(
        {
            "k": [2, 3, 4],
            "silhouette": [0.3, 0.5, 0.4],
            "inertia": [100.0, 40.0, 35.0],
            "calinski_harabasz": [10.0, 30.0, 20.0],
            "davies_bouldin": [1.0, 0.8, 0.5],
            "gap": [0.1, 0.5, 0.52],
            "gap_se": [0.05, 0.05, 0.05],
        }
    )
    recommendation = recommend_k(sweep)
    assert recommendation.k == 3
    assert "Calinski-Harabasz (highest)" in recommendation.agree
    assert recommendation.disagree == ["Davies-Bouldin (lowest) suggests k=4"]


@pytest.mark.parametrize(
    ("silhouette", "label"),
    [
        (-0.1, "no substantial structure"),
        (0.25, "no substantial structure"),
        (0.26, "weak structure"),
        (0.50, "weak structure"),
        (0.51, "reasonable structure"),
        (0.70, "reasonable structure"),
        (0.71, "strong structure"),
    ],
)
def test_structure_verdict_bands(silhouette, label):
    """Kaufman and Rousseeuw bands map the mean silhouette to a label."""
    assert structure_verdict(silhouette)[0] == label


def test_labels_numbered_by_size_largest_first():
    """Cluster 1 is the largest and sizes never increase with the number."""
    features, _ = blob_features(n=200, centers=[[0] * 7, [5] * 7, [10] * 7], seed=2)
    features = features.iloc[:170]
    result = fit_clusters(features, ClusterSettings(k=3, k_max=3, preprocess=NO_LOG))
    sizes = np.bincount(result.labels)[1:]
    assert list(sizes) == sorted(sizes, reverse=True)


def test_model_predict_gives_stable_numbers(blob_result):
    """model.predict on X plus one equals the stored labels."""
    _, _, result = blob_result
    assert np.array_equal(result.model.predict(result.X) + 1, result.labels)


def test_rerun_same_seed_same_labels(blob_result):
    """A rerun with the same settings reproduces the labels exactly."""
    features, _, result = blob_result
    again = fit_clusters(features, result.settings)
    assert np.array_equal(again.labels, result.labels)


def test_centroids_are_member_medians(blob_result):
    """Centroids in original units are the medians of the cluster members."""
    features, _, result = blob_result
    expected = features.groupby(result.labels).median()
    assert np.allclose(result.centroids.to_numpy(), expected.to_numpy())


def test_result_is_picklable(blob_result):
    """ClusterResult survives pickling, as st.cache_data needs."""
    _, _, result = blob_result
    clone = pickle.loads(pickle.dumps(result))
    assert np.array_equal(clone.model.predict(clone.X), result.model.predict(result.X))


def test_per_patient_silhouette_mean_matches(blob_result):
    """The mean of the per-patient silhouettes is the reported silhouette."""
    _, _, result = blob_result
    assert result.silhouette_per_patient.mean() == pytest.approx(result.silhouette)


def test_large_cohort_thresholds():
    """Above the settings' sizes the silhouette is sampled and MiniBatchKMeans runs."""
    features, _ = blob_features(n=300, seed=4)
    settings = ClusterSettings(
        k=3, k_max=3, preprocess=NO_LOG, silhouette_sample_above=100,
        silhouette_sample_size=80, minibatch_above=100, gap_references=2,
    )  # fmt: skip
    result = fit_clusters(features, settings)
    assert result.silhouette_estimated
    assert result.silhouette_per_patient is None
    assert isinstance(result.model, MiniBatchKMeans)
    assert result.sweep["silhouette_estimated"].all()


@pytest.mark.parametrize(
    ("rows", "k", "message"),
    [
        (2, 2, "Clustering needs at least 3 patients for k=2 .*this cohort has 2\\."),
        (4, 4, "Clustering needs at least 5 patients for k=4 .*this cohort has 4\\."),
        (
            1,
            None,
            "Clustering needs at least 3 patients for k=2 .*this cohort has 1\\.",
        ),
    ],
)
def test_too_few_rows_message(rows, k, message):
    """Fewer than k + 1 rows raise TooFewPatientsError with both numbers."""
    features, _ = blob_features(n=30, seed=5)
    with pytest.raises(TooFewPatientsError, match=message):
        fit_clusters(features.iloc[:rows], ClusterSettings(k=k))


@pytest.mark.parametrize(("k", "distinct"), [(3, 2), (4, 3)])
def test_too_few_profiles_message(k, distinct):
    """Fewer distinct profiles than k raise the documented message."""
    features, _ = blob_features(n=30, seed=5)
    repeated = pd.concat([features.iloc[:distinct]] * 10, ignore_index=True)
    message = (
        f"The cohort has {distinct} distinct patient profiles, so at most "
        f"{distinct} clusters exist; choose k of {distinct} or less."
    )
    with pytest.raises(TooFewPatientsError, match=message):
        fit_clusters(repeated, ClusterSettings(k=k))


@pytest.mark.parametrize("k", [None, 2, 5])
def test_identical_profiles_message(k):
    """One repeated profile raises "nothing to cluster" for any k."""
    features, _ = blob_features(n=30, seed=5)
    repeated = pd.concat([features.iloc[:1]] * 10, ignore_index=True)
    with pytest.raises(TooFewPatientsError, match="nothing to cluster"):
        fit_clusters(repeated, ClusterSettings(k=k))


def test_check_cohort_size_rejects_two_rows():
    """The quick size check rejects two patients with both numbers."""
    features, _ = blob_features(n=30, seed=5)
    with pytest.raises(TooFewPatientsError, match="at least 3 patients.*has 2"):
        check_cohort_size(features.iloc[:2])


def test_k_max_capped_at_distinct_profiles():
    """With three distinct profiles the sweep stops at k=3."""
    features, _ = blob_features(n=30, seed=5)
    repeated = pd.concat([features.iloc[:3]] * 5, ignore_index=True)
    result = fit_clusters(repeated, ClusterSettings(gap_references=2))
    assert result.sweep["k"].tolist() == [2, 3]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"troponin": 2.0, "ck_mb": 1.5, "age": 0.2}, "high troponin, high CK-MB"),
        ({"age": -0.8, "troponin": 0.1, "ck_mb": 0.0}, "low age"),
        ({"age": 0.1, "troponin": -0.4, "ck_mb": 0.5}, "close to the cohort average"),
        ({"gender": 0.9, "heart_rate": -0.7, "age": 0}, "mostly male, low heart rate"),
    ],
)
def test_cluster_names_from_z_scores(row, expected):
    """Names use the two largest |z| above 0.5 with high/low and the label."""
    assert cluster_names(pd.DataFrame([row], index=[1]))[1] == expected


def test_cluster_names_made_unique():
    """Two clusters with the same description get their numbers appended."""
    z = pd.DataFrame(
        {"age": [0.1, 0.0, 2.0], "troponin": [0.0, 0.2, 0.0]}, index=[1, 2, 3]
    )
    names = cluster_names(z)
    assert names[1] == "close to the cohort average (cluster 1)"
    assert names[2] == "close to the cohort average (cluster 2)"
    assert names[3] == "high age"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_documented(setting):
    """Each engine setting has a unit and a reason for its default."""
    assert setting.unit
    assert len(setting.reason) > 20


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 1}, "k must be 2 or more, or None; got 1"),
        ({"k_min": 5, "k_max": 3}, "got k_min=5, k_max=3"),
        ({"algorithm": "ward"}, "runs k-means only; got algorithm='ward'"),
    ],
)
def test_invalid_settings_rejected(kwargs, message):
    """ClusterSettings rejects impossible k ranges and other algorithms."""
    with pytest.raises(ValueError, match=message):
        ClusterSettings(**kwargs)


def test_names_ignore_unused_gender():
    """With gender left out of the distance, no name mentions it."""
    rng = np.random.default_rng(6)
    group = np.repeat([0, 1, 2], 40)
    features = pd.DataFrame(rng.normal(100, 1, size=(120, 8)), columns=FEATURE_NAMES)
    for column in ("age", "heart_rate", "systolic_bp", "blood_sugar"):
        features[column] += 20 * group
    features["gender"] = (group == 0).astype(float)
    result = fit_clusters(features, ClusterSettings(k=3, k_max=3, preprocess=NO_LOG))
    assert result.z_scores["gender"].abs().max() > 1.0
    assert not any("male" in name for name in result.names.values())
