"""Alternative clustering algorithms on the same scaled matrix as k-means.

Each function returns an ``AlternativeResult`` with cluster numbers, centroids
in the scaled space and the adjusted Rand index against the k-means labels,
so the pages can show how much the grouping depends on the algorithm.
``as_cluster_result`` turns one into a ``ClusterResult`` for the profile and
lookup pages, where a patient is assigned to the nearest of these centroids.
"""

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score, silhouette_samples
from sklearn.mixture import GaussianMixture

from core.clustering import (
    ClusterResult,
    cluster_names,
    median_centroids,
    member_distance_p99,
    renumber,
)
from core.engine_settings import DEFAULTS, limit_native_threads
from core.errors import CohortError, NoClustersError
from core.profiles import centroid_z_scores
from core.selection import silhouette_estimate, structure_verdict

logger = logging.getLogger(__name__)

ALGORITHMS: dict[str, str] = {
    "kmeans": "k-means",
    "gmm": "Gaussian mixture (k chosen by BIC)",
    "ward": "Agglomerative clustering, Ward linkage",
    "hdbscan": "HDBSCAN (density-based; finds k itself)",
}
UNASSIGNED = 0
UNASSIGNED_NAME = "unassigned"
LOOKUP_NOTE = (
    "For this algorithm a patient is placed in the cluster with the nearest "
    "centroid (member mean in the scaled space), which approximates but is not "
    "the algorithm's own assignment rule."
)
NO_SILHOUETTE = (
    "not defined",
    "The mean silhouette needs at least two clusters, each patient in no cluster "
    "left out, and more assigned patients than clusters; this grouping has fewer.",
)


@dataclass(frozen=True)
class AlternativeResult:
    """Labels of one alternative algorithm and how they compare with k-means.

    Attributes
    ----------
    algorithm : str
        Key in ``ALGORITHMS``.
    labels : numpy.ndarray
        Cluster numbers 1..k by size, largest first; 0 is HDBSCAN noise,
        shown as the group "unassigned". Shape (n,).
    names : dict of int to str
        Name per cluster number, including 0 when present.
    centroids_scaled : numpy.ndarray
        Member mean per cluster 1..k in the scaled space, shape (k, p).
    ari_vs_kmeans : float
        Adjusted Rand index between these labels and the k-means labels.
    table : pandas.DataFrame or None
        Algorithm details, such as BIC per k for the Gaussian mixture.
    note : str
        A plain sentence about the result, empty when there is nothing to add.
    """

    algorithm: str
    labels: np.ndarray
    names: dict[int, str]
    centroids_scaled: np.ndarray
    ari_vs_kmeans: float
    table: pd.DataFrame | None = None
    note: str = ""


def _check_quadratic(name: str, n: int, limit: int) -> None:
    if n > limit:
        raise CohortError(
            f"{ALGORITHMS[name]} needs time and memory that grow with the square "
            f"of the cohort size, so it is limited to {limit:,} patients; this "
            f"cohort has {n:,}. Use k-means or the Gaussian mixture instead."
        )


def _finish(
    name: str,
    X: np.ndarray,
    raw: np.ndarray,
    kmeans_labels: np.ndarray,
    used_features: list[str],
    table: pd.DataFrame | None = None,
    note: str = "",
) -> AlternativeResult:
    # Renumber clusters 1..k by size (noise -1 becomes 0) and summarise them.
    clusters = sorted(set(raw) - {-1})
    centers = np.array([X[raw == c].mean(axis=0) for c in clusters])
    centers = centers.reshape(len(clusters), X.shape[1])
    order = renumber(np.searchsorted(clusters, raw[raw != -1]), centers)
    mapping = {clusters[old]: new + 1 for new, old in enumerate(order)}
    labels = np.array([mapping.get(c, UNASSIGNED) for c in raw])
    centers = centers[order]

    z = pd.DataFrame(centers, columns=used_features, index=range(1, len(clusters) + 1))
    names = cluster_names(z)
    if (labels == UNASSIGNED).any():
        names[UNASSIGNED] = UNASSIGNED_NAME
    ari = float(adjusted_rand_score(kmeans_labels, labels))
    logger.info("%s found %d clusters; ARI vs k-means %.2f", name, len(clusters), ari)
    return AlternativeResult(name, labels, names, centers, ari, table, note)


@limit_native_threads
def gaussian_mixture(
    X: np.ndarray,
    k_values: list[int],
    seed: int,
    kmeans_labels: np.ndarray,
    used_features: list[str],
) -> AlternativeResult:
    """Fit full-covariance Gaussian mixtures and keep the k with the lowest BIC.

    Parameters
    ----------
    X : numpy.ndarray
        Scaled matrix, shape (n, p).
    k_values : list of int
        Candidate numbers of components.
    seed : int
        Seed of every fit.
    kmeans_labels : numpy.ndarray
        k-means cluster numbers, shape (n,), for the adjusted Rand index.
    used_features : list of str
        Column names of X, for cluster names.

    Returns
    -------
    AlternativeResult
        ``table`` has columns ``k`` and ``bic`` (lower is better).
    """
    models = {
        k: GaussianMixture(k, covariance_type="full", random_state=seed).fit(X)
        for k in k_values
    }
    table = pd.DataFrame(
        {"k": list(models), "bic": [m.bic(X) for m in models.values()]}
    )
    best = int(table.loc[table["bic"].idxmin(), "k"])
    raw = models[best].predict(X)
    return _finish("gmm", X, raw, kmeans_labels, used_features, table)


@limit_native_threads
def ward(
    X: np.ndarray,
    k: int,
    kmeans_labels: np.ndarray,
    used_features: list[str],
    limit: int = int(DEFAULTS["quadratic_algorithm_limit"]),
) -> AlternativeResult:
    """Cluster with agglomerative Ward linkage into k clusters.

    Raises ``CohortError`` above ``limit`` patients, because Ward linkage needs
    memory quadratic in n. Other parameters as in ``gaussian_mixture``.
    """
    _check_quadratic("ward", X.shape[0], limit)
    raw = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X)
    return _finish("ward", X, raw, kmeans_labels, used_features)


@limit_native_threads
def hdbscan(
    X: np.ndarray,
    kmeans_labels: np.ndarray,
    used_features: list[str],
    min_cluster_size: int | None = None,
    limit: int = int(DEFAULTS["quadratic_algorithm_limit"]),
) -> AlternativeResult:
    """Cluster with HDBSCAN; points in no dense region form the group "unassigned".

    When every patient is noise the result has no cluster and no centroid,
    so the lookup cannot place a patient, and ``note`` states this.

    ``min_cluster_size`` defaults to 2 % of the cohort and at least 10, the
    size below which a cluster is flagged as a possible outlier group. Raises
    ``CohortError`` above ``limit`` patients. Other parameters as in
    ``gaussian_mixture``.
    """
    _check_quadratic("hdbscan", X.shape[0], limit)
    size = min_cluster_size or max(10, round(0.02 * X.shape[0]))
    raw = HDBSCAN(min_cluster_size=min(size, X.shape[0]), copy=True).fit_predict(X)
    note = (
        f"HDBSCAN found {len(set(raw) - {-1})} dense group(s) of at least {size} "
        f"patients and left {(raw == -1).sum()} of {len(raw)} patients unassigned."
    )
    if (raw == -1).all():
        note += (
            " With no dense group there is no centroid, so the lookup cannot "
            "place a patient with this algorithm."
        )
    return _finish("hdbscan", X, raw, kmeans_labels, used_features, note=note)


def as_cluster_result(
    result: ClusterResult, alternative: AlternativeResult, features: pd.DataFrame
) -> ClusterResult:
    """Describe an alternative algorithm's clusters as a ``ClusterResult``.

    The copy keeps the k-means pipeline, scaled matrix, sweep and settings.
    Labels, names, centroids, silhouette, verdict, z-scores and distance
    limits come from the alternative's clusters. Patients in no
    cluster (label 0, HDBSCAN noise) stay a group of their own in ``labels``
    and ``names`` but get no centroid, no z-score row and no silhouette.

    Parameters
    ----------
    result : ClusterResult
        The k-means result the alternative was fitted beside, on ``result.X``.
    alternative : AlternativeResult
        Labels of the same patients, in the same order, shape (n,).
    features : pandas.DataFrame
        The clustered rows (``result.index``), shape (n, 8), with the
        ``FEATURE_NAMES`` columns in canonical units.

    Returns
    -------
    ClusterResult
        A copy with ``algorithm`` set to ``alternative.algorithm`` and
        ``assignment_note`` saying that a new patient is placed by the
        nearest member mean in the scaled space.

    Raises
    ------
    NoClustersError
        When every patient is in no cluster.
    ValueError
        When the alternative, the result and ``features`` differ in length.
    """
    labels = np.asarray(alternative.labels)
    if not len(labels) == len(result.labels) == len(features):
        raise ValueError(
            f"The alternative has {len(labels)} labels, the k-means result "
            f"{len(result.labels)} and the features {len(features)} rows; they "
            "must describe the same patients."
        )
    assigned = labels != UNASSIGNED
    if not assigned.any():
        raise NoClustersError(
            f"No cluster to use: {ALGORITHMS[alternative.algorithm]} left all "
            f"{len(labels):,} patients unassigned, so there is nothing to profile "
            "and no centroid to place a patient against. Choose another algorithm "
            "for profiles and lookup on the Clustering page."
        )

    X = result.X
    clusters = np.unique(labels[assigned])
    centers = np.array([X[labels == c].mean(axis=0) for c in clusters])
    z_scores = centroid_z_scores(
        features, labels, result.settings.preprocess.log_transform
    )
    silhouette, estimated, per_patient = _assigned_silhouette(X, labels, result)
    logger.info(
        "Using %s: %d clusters, %d patients in none",
        alternative.algorithm,
        len(clusters),
        int((~assigned).sum()),
    )
    return replace(
        result,
        labels=labels.copy(),
        centroids=median_centroids(features.loc[assigned], labels[assigned]),
        centroids_scaled=centers,
        names=dict(alternative.names),
        silhouette=silhouette,
        silhouette_estimated=estimated,
        silhouette_per_patient=per_patient,
        verdict=NO_SILHOUETTE
        if np.isnan(silhouette)
        else structure_verdict(silhouette),
        z_scores=z_scores.drop(index=UNASSIGNED, errors="ignore"),
        member_distance_p99=member_distance_p99(X[assigned], labels[assigned], centers),
        algorithm=alternative.algorithm,
        assignment_note=LOOKUP_NOTE,
    )


def _assigned_silhouette(
    X: np.ndarray, labels: np.ndarray, result: ClusterResult
) -> tuple[float, bool, np.ndarray | None]:
    # The silhouette of the assigned patients only, because noise is no cluster.
    assigned = labels != UNASSIGNED
    n_clusters = len(np.unique(labels[assigned]))
    if not 2 <= n_clusters < assigned.sum():
        return float("nan"), False, None

    settings = result.settings
    score, estimated = silhouette_estimate(
        X[assigned],
        labels[assigned],
        settings.seed,
        settings.silhouette_sample_above,
        settings.silhouette_sample_size,
    )
    per_patient = None
    if not estimated:
        per_patient = np.full(len(labels), np.nan)
        per_patient[assigned] = silhouette_samples(X[assigned], labels[assigned])
    return score, estimated, per_patient


def describe_origin(result: ClusterResult) -> str:
    """Return a sentence naming the algorithm that made ``result``'s clusters."""
    text = f"Clusters made by {ALGORITHMS[result.algorithm]}"
    unassigned = int((np.asarray(result.labels) == UNASSIGNED).sum())
    if unassigned:
        text += (
            f"; {unassigned:,} of {len(result.labels):,} patients are in no "
            f"cluster (group {UNASSIGNED}, {UNASSIGNED_NAME})"
        )
    return text + ". The algorithm is chosen on the Clustering page."
