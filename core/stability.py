"""Check whether clusters survive resampling of the cohort.

Each bootstrap resample is clustered again with the same k. Agreement with
the full-data clusters is measured by the adjusted Rand index on the
resampled points, and per cluster by the Jaccard similarity of the
best-matching bootstrap cluster (Hennig 2007, "Cluster-wise assessment of
cluster stability", Computational Statistics & Data Analysis 52:258-271).
"""

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from core.engine_settings import DEFAULTS, limit_native_threads
from core.selection import make_model

logger = logging.getLogger(__name__)

# Hennig (2007) reading of a cluster's mean Jaccard: (lower bound, whether
# the bound itself belongs to the band, label).
JACCARD_BANDS: tuple[tuple[float, bool, str], ...] = (
    (0.85, False, "highly stable"),
    (0.75, False, "stable"),
    (0.60, True, "a pattern, but membership is uncertain"),
    (-np.inf, True, "dissolved: not a stable cluster"),
)
SMALL_CLUSTER_SHARE = 0.02
SMALL_CLUSTER_SIZE = 10
SMALL_CLUSTER_NOTE = (
    "Clusters with fewer than 2 % of the cohort or fewer than 10 patients may be "
    "groups of outliers rather than a patient type."
)


@dataclass(frozen=True)
class StabilityResult:
    """Bootstrap stability of one clustering.

    Attributes
    ----------
    mean_ari : float
        Mean adjusted Rand index between full-data and bootstrap labels.
    ari : numpy.ndarray
        Adjusted Rand index per resample, shape (n_resamples,).
    clusters : pandas.DataFrame
        Index ``cluster``; columns ``size``, ``share``, ``mean_jaccard``,
        ``verdict`` and ``small`` (possible outlier group).
    n_resamples : int
        Number of resamples drawn.
    sample_size : int
        Patients drawn with replacement in each resample.
    """

    mean_ari: float
    ari: np.ndarray
    clusters: pd.DataFrame
    n_resamples: int
    sample_size: int


def jaccard_verdict(mean_jaccard: float) -> str:
    """Return Hennig's (2007) reading of a cluster's mean Jaccard similarity.

    Below 0.6 dissolved, 0.6 to 0.75 a pattern, above 0.75 stable, above
    0.85 highly stable.
    """
    if np.isnan(mean_jaccard):
        return "not assessed"
    for lower, inclusive, label in JACCARD_BANDS:
        if mean_jaccard > lower or (inclusive and mean_jaccard == lower):
            return label
    return JACCARD_BANDS[-1][2]


def best_jaccard(original: np.ndarray, bootstrap: np.ndarray) -> np.ndarray:
    """Return, for each original cluster, the Jaccard of its best bootstrap match.

    Parameters
    ----------
    original, bootstrap : numpy.ndarray
        Labels of the same distinct points, shape (m,); ``original`` uses
        1..k.

    Returns
    -------
    numpy.ndarray
        Shape (k,) where k is ``original.max()``; NaN for a cluster with no
        point among the m.
    """
    k = int(original.max())
    _, columns = np.unique(bootstrap, return_inverse=True)
    width = int(columns.max()) + 1
    cells = (np.asarray(original, dtype=int) - 1) * width + columns
    overlap = np.bincount(cells, minlength=k * width).reshape(k, width).astype(float)
    union = overlap.sum(axis=1, keepdims=True) + overlap.sum(axis=0) - overlap
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = (overlap / union).max(axis=1)
    jaccard[overlap.sum(axis=1) == 0] = np.nan
    return jaccard


def small_clusters(labels: np.ndarray) -> pd.Series:
    """Flag clusters under 2 % of the cohort or under 10 patients (bool per cluster)."""
    sizes = pd.Series(labels).value_counts().sort_index()
    limit = max(SMALL_CLUSTER_SHARE * len(labels), SMALL_CLUSTER_SIZE)
    return sizes < limit


@limit_native_threads
def bootstrap_stability(
    X: np.ndarray,
    labels: np.ndarray,
    seed: int = 42,
    n_resamples: int = int(DEFAULTS["bootstrap_resamples"]),
    on_progress: Callable[[int, int], None] | None = None,
    sample_above: int = int(DEFAULTS["bootstrap_sample_above"]),
    minibatch_above: int = int(DEFAULTS["minibatch_above"]),
) -> StabilityResult:
    """Refit k-means on bootstrap resamples and compare with the full-data labels.

    Parameters
    ----------
    X : numpy.ndarray
        Scaled matrix the clusters were fitted on, shape (n, p).
    labels : numpy.ndarray
        Full-data cluster numbers 1..k, shape (n,).
    seed : int
        Seeds the resampling and every k-means fit.
    n_resamples : int
        Number of bootstrap resamples, at least 1.
    on_progress : callable, optional
        Called as ``on_progress(i, n_resamples)`` after resample i (1-based).
    sample_above : int
        Above this many patients each resample draws ``sample_above``
        patients with replacement instead of n.
    minibatch_above : int
        Row count above which MiniBatchKMeans is used.

    Returns
    -------
    StabilityResult
    """
    labels = np.asarray(labels)
    n, k = len(labels), int(labels.max())
    size = min(n, sample_above)
    rng = np.random.default_rng(seed)
    ari, jaccard = np.empty(n_resamples), np.empty((n_resamples, k))
    for i in range(n_resamples):
        rows = rng.integers(0, n, size=size)
        model = make_model(k, int(rng.integers(2**31)), size, minibatch_above)
        fitted = model.fit(X[rows]).labels_
        ari[i] = adjusted_rand_score(labels[rows], fitted)
        distinct, first = np.unique(rows, return_index=True)
        jaccard[i] = best_jaccard(labels[distinct], fitted[first])
        if on_progress is not None:
            on_progress(i + 1, n_resamples)
    logger.info("Bootstrap stability: %d resamples of %d patients", n_resamples, size)
    return StabilityResult(
        float(ari.mean()), ari, _cluster_table(labels, jaccard), n_resamples, size
    )


def _cluster_table(labels: np.ndarray, jaccard: np.ndarray) -> pd.DataFrame:
    sizes = pd.Series(labels).value_counts().sort_index()
    table = pd.DataFrame({"size": sizes, "share": sizes / len(labels)})
    # A cluster absent from every resample has no Jaccard; keep NaN quietly.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        table["mean_jaccard"] = np.nanmean(jaccard, axis=0)
    table["verdict"] = [jaccard_verdict(j) for j in table["mean_jaccard"]]
    table["small"] = small_clusters(labels)
    table.index.name = "cluster"
    return table
