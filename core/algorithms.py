"""Alternative clustering algorithms on the same scaled matrix as k-means.

Each function returns an ``AlternativeResult`` with cluster numbers, centroids
in the scaled space and the adjusted Rand index against the k-means labels,
so the pages can show how much the grouping depends on the algorithm. A
patient on the lookup page is assigned to the nearest of these centroids.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import HDBSCAN, AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from core.clustering import cluster_names, renumber
from core.engine_settings import DEFAULTS, limit_native_threads
from core.errors import CohortError

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
