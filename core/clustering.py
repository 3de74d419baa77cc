"""Fit k-means on the scaled cohort and describe the result.

``fit_clusters`` runs the whole path from the feature table to a picklable
``ClusterResult`` with stable cluster numbers and readable names.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_samples
from sklearn.pipeline import Pipeline

from core.engine_settings import DEFAULTS, SETTINGS, Setting, limit_native_threads
from core.errors import TooFewPatientsError
from core.preprocessing import PreprocessSettings, fit_transform, used_features
from core.profiles import centroid_z_scores
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES
from core.selection import (
    VERDICT_BANDS,
    KRecommendation,
    fit_model,
    gap_rule_k,
    gap_statistic,
    recommend_k,
    silhouette_estimate,
    structure_verdict,
    sweep_k,
)

__all__ = [
    "DEFAULTS",
    "SETTINGS",
    "VERDICT_BANDS",
    "ClusterResult",
    "ClusterSettings",
    "KRecommendation",
    "Setting",
    "cluster_names",
    "fit_clusters",
    "gap_rule_k",
    "gap_statistic",
    "recommend_k",
    "structure_verdict",
    "sweep_k",
]

logger = logging.getLogger(__name__)


ORDERING_RULE = (
    "Clusters are numbered 1 to k by size, largest first; clusters of equal size "
    "are ordered by their scaled centroid coordinates, compared column by column."
)
CENTROID_RULE = (
    "Centroids in original units are the medians of each cluster's members, "
    "which stay within observed values for skewed laboratory results and gender."
)


@dataclass(frozen=True)
class ClusterSettings:
    """Choices for ``fit_clusters``; ``k=None`` means the recommended k.

    Raises ``ValueError`` when k is below 2, when k_min and k_max do not
    satisfy 2 <= k_min <= k_max, or when ``algorithm`` is not ``"kmeans"``.
    """

    k: int | None = None
    k_min: int = 2
    k_max: int = 10
    seed: int = 42
    algorithm: str = "kmeans"
    preprocess: PreprocessSettings = PreprocessSettings()
    gap_references: int = int(DEFAULTS["gap_references"])
    silhouette_sample_above: int = int(DEFAULTS["silhouette_sample_above"])
    silhouette_sample_size: int = int(DEFAULTS["silhouette_sample_size"])
    minibatch_above: int = int(DEFAULTS["minibatch_above"])
    fit_sample_size: int = int(DEFAULTS["fit_sample_size"])
    gap_sample_size: int = int(DEFAULTS["gap_sample_size"])

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 2:
            raise ValueError(f"k must be 2 or more, or None; got {self.k}.")
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError(
                "k_min and k_max must satisfy 2 <= k_min <= k_max; "
                f"got k_min={self.k_min}, k_max={self.k_max}."
            )
        if self.algorithm != "kmeans":
            raise ValueError(
                f"fit_clusters runs k-means only; got algorithm={self.algorithm!r}. "
                "Use core.algorithms for the other algorithms."
            )


@dataclass
class ClusterResult:
    """Everything the pages need from one clustering run; picklable.

    ``fit_clusters`` fills it from k-means. ``core.algorithms.as_cluster_result``
    puts another algorithm's clusters in its place. Then ``algorithm`` names
    that algorithm, ``assignment_note`` describes how the lookup places a new
    patient, and label 0 (named in ``names``) marks patients in no cluster.
    ``settings``, ``sweep``, ``recommendation`` and ``model`` still describe
    the k-means fit, whose ``pipeline`` and ``X`` both results share.
    """

    labels: np.ndarray
    centroids: pd.DataFrame
    centroids_scaled: np.ndarray
    names: dict[int, str]
    silhouette: float
    silhouette_estimated: bool
    silhouette_per_patient: np.ndarray | None
    verdict: tuple[str, str]
    sweep: pd.DataFrame
    recommendation: KRecommendation
    pipeline: Pipeline
    model: KMeans | MiniBatchKMeans
    X: np.ndarray
    ordering_rule: str
    used_features: list[str]
    settings: ClusterSettings
    index: pd.Index
    z_scores: pd.DataFrame
    feature_min: pd.Series
    feature_max: pd.Series
    member_distance_p99: dict[int, float]
    centroid_rule: str = CENTROID_RULE
    algorithm: str = "kmeans"
    assignment_note: str = ""

    @property
    def clusters(self) -> list[int]:
        """Cluster numbers 1..k, without 0 (patients in no cluster)."""
        return sorted(c for c in self.names if c > 0)

    @property
    def k(self) -> int:
        """Number of clusters, not counting patients in no cluster."""
        return len(self.clusters)


def _check_size(n: int, distinct: int, k: int) -> None:
    if n < k + 1:
        raise TooFewPatientsError(
            f"Clustering needs at least {k + 1} patients for k={k} (one more than k, "
            f"so that the silhouette is defined); this cohort has {n}."
        )
    if distinct < 2:
        raise TooFewPatientsError(
            f"All {n} patients have the same values in the features used, so there "
            f"is nothing to cluster. Clustering needs at least 2 distinct patient "
            f"profiles; check that the right columns are mapped."
        )
    if distinct < k:
        raise TooFewPatientsError(
            f"The cohort has {distinct} distinct patient profiles, so at most "
            f"{distinct} clusters exist; choose k of {distinct} or less."
        )


def check_cohort_size(features: pd.DataFrame, k: int = 2) -> None:
    """Raise ``TooFewPatientsError`` when ``features`` cannot give ``k`` clusters.

    A quick check on the raw values, for pages that show a cohort before it
    is clustered. ``fit_clusters`` checks again on the features it uses.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per kept patient; missing values count as a value of their own.
    k : int
        Number of clusters wanted.
    """
    distinct = len(features.drop_duplicates())
    _check_size(len(features), distinct, k)


def candidate_ks(n: int, distinct: int, settings: ClusterSettings) -> list[int]:
    """Return k_min..k_max capped at the distinct profiles and at n - 1."""
    if settings.k is not None:
        _check_size(n, distinct, settings.k)
    upper = min(settings.k_max, distinct, n - 1)
    if upper < settings.k_min:
        _check_size(n, distinct, settings.k_min)
    return list(range(settings.k_min, upper + 1))


def renumber(labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Return the order of internal labels: size descending, ties by centroid."""
    sizes = np.bincount(labels, minlength=centers.shape[0])
    keys = [(-sizes[i], tuple(np.round(centers[i], 9))) for i in range(len(sizes))]
    return np.array(sorted(range(len(sizes)), key=lambda i: keys[i]), dtype=int)


def cluster_names(z_scores: pd.DataFrame, threshold: float = 0.5) -> dict[int, str]:
    """Name clusters by the two features whose mean z-score is largest beyond 0.5.

    Parameters
    ----------
    z_scores : pandas.DataFrame
        Clusters as rows (index = cluster number), features as columns.
    threshold : float
        Minimum absolute z-score for a feature to enter a name.

    Returns
    -------
    dict of int to str
        Names such as ``"high troponin, high CK-MB"``, or ``"close to the
        cohort average"``; a repeated name gets `` (cluster N)`` appended.
    """
    names = {}
    for cluster, row in z_scores.iterrows():
        top = row.abs().sort_values(ascending=False, kind="stable")
        parts = [
            _describe(name, row[name])
            for name in top.index[:2]
            if top[name] > threshold
        ]
        names[int(cluster)] = ", ".join(parts) or "close to the cohort average"
    counts = pd.Series(list(names.values())).value_counts()
    return {c: f"{n} (cluster {c})" if counts[n] > 1 else n for c, n in names.items()}


def _describe(feature: str, z: float) -> str:
    if feature == "gender":
        return "mostly male" if z > 0 else "mostly female"
    label = FEATURE_BY_NAME[feature].label
    if not label[1:2].isupper():
        label = label[0].lower() + label[1:]
    return f"{'high' if z > 0 else 'low'} {label}"


def _order_model(model: KMeans) -> np.ndarray:
    # Permute the fitted centres so that internal label i is cluster i + 1;
    # model.predict then gives the stable numbering directly.
    order = renumber(model.labels_, model.cluster_centers_)
    model.cluster_centers_ = model.cluster_centers_[order]
    model.labels_ = np.argsort(order)[model.labels_]
    return model.labels_ + 1


def member_distance_p99(X, labels, centers) -> dict[int, float]:
    """Return the 99th percentile of members' distances to their centre, per cluster.

    ``labels`` are cluster numbers 1..k, row i of ``centers`` is cluster i + 1.
    """
    distances = np.linalg.norm(X - centers[labels - 1], axis=1)
    return {
        int(c): float(np.percentile(distances[labels == c], 99))
        for c in range(1, centers.shape[0] + 1)
    }


def median_centroids(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Return each cluster's member medians in original units, indexed by cluster."""
    centroids = features.loc[:, list(FEATURE_NAMES)].groupby(labels).median()
    centroids.index.name = "cluster"
    return centroids


@limit_native_threads
def _sweep(X: np.ndarray, settings: ClusterSettings) -> pd.DataFrame:
    return sweep_k(
        X,
        candidate_ks(len(X), count_distinct_rows(X), settings),
        settings.seed,
        gap_references=settings.gap_references,
        gap_sample_size=settings.gap_sample_size,
        silhouette_sample_above=settings.silhouette_sample_above,
        silhouette_sample_size=settings.silhouette_sample_size,
        minibatch_above=settings.minibatch_above,
        fit_sample_size=settings.fit_sample_size,
    )


def count_distinct_rows(X: np.ndarray) -> int:
    """Return the number of distinct rows of ``X`` after rounding to 12 decimals."""
    # Hashing rows is linear in n, where np.unique(axis=0) sorts them.
    return int((~pd.DataFrame(X.round(12)).duplicated()).sum())


def _silhouettes(X, labels, settings: ClusterSettings):
    # Per-patient values only where the exact silhouette is affordable.
    sil, estimated = silhouette_estimate(
        X,
        labels,
        settings.seed,
        settings.silhouette_sample_above,
        settings.silhouette_sample_size,
    )
    per_patient = None
    if len(X) <= settings.silhouette_sample_above:
        per_patient = silhouette_samples(X, labels)
    return sil, estimated, per_patient


@limit_native_threads
def _fit_final(X: np.ndarray, k: int, settings: ClusterSettings):
    model = fit_model(
        k, settings.seed, X, settings.minibatch_above, settings.fit_sample_size
    )
    labels = _order_model(model)
    return model, labels, _silhouettes(X, labels, settings)


def fit_clusters(
    features: pd.DataFrame, settings: ClusterSettings | None = None
) -> ClusterResult:
    """Preprocess, sweep k, fit k-means and describe the clusters.

    Parameters
    ----------
    features : pandas.DataFrame
        Shape (n_patients, 8) with the ``FEATURE_NAMES`` columns in canonical
        units (years, 1/0, beats/min, mmHg, mg/dL, ng/mL); NaN allowed.
    settings : ClusterSettings, optional
        Defaults to ``ClusterSettings()``: recommended k between 2 and 10,
        seed 42, log-transformed labs, gender left out.

    Returns
    -------
    ClusterResult
        ``labels`` are cluster numbers 1..k aligned with ``features.index``
        and numbered by ``ORDERING_RULE``.

    Raises
    ------
    TooFewPatientsError
        When there are fewer than k + 1 rows or fewer than k distinct
        profiles in the scaled features.
    """
    settings = settings or ClusterSettings()
    pipeline, X = fit_transform(features, settings.preprocess)
    sweep = _sweep(X, settings)
    recommendation = recommend_k(sweep)
    k = settings.k or recommendation.k

    model, labels, (sil, estimated, per_patient) = _fit_final(X, k, settings)

    # Names come from the features that shaped the clusters; the z-score table
    # keeps all eight for the profile page.
    z_scores = centroid_z_scores(features, labels, settings.preprocess.log_transform)
    used = used_features(settings.preprocess)
    logger.info("Fitted k-means with k=%d on %d patients", k, len(X))
    return ClusterResult(
        labels=labels,
        centroids=median_centroids(features, labels),
        centroids_scaled=model.cluster_centers_.copy(),
        names=cluster_names(z_scores[used]),
        silhouette=sil,
        silhouette_estimated=estimated,
        silhouette_per_patient=per_patient,
        verdict=structure_verdict(sil),
        sweep=sweep,
        recommendation=recommendation,
        pipeline=pipeline,
        model=model,
        X=X,
        ordering_rule=ORDERING_RULE,
        used_features=used,
        settings=settings,
        index=features.index.copy(),
        z_scores=z_scores,
        feature_min=features.loc[:, list(FEATURE_NAMES)].min(),
        feature_max=features.loc[:, list(FEATURE_NAMES)].max(),
        member_distance_p99=member_distance_p99(X, labels, model.cluster_centers_),
    )
