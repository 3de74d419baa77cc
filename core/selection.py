"""Choose the number of clusters: sweep k, gap statistic and the verdict.

``sweep_k`` scores every candidate k with five criteria, ``recommend_k`` picks
the k with the highest mean silhouette and lists which criteria agree, and
``structure_verdict`` turns a mean silhouette into the Kaufman and Rousseeuw
(1990) band. ``core.clustering`` re-exports these functions.
"""

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from sklearn.utils import check_random_state

from core.engine_settings import DEFAULTS, limit_native_threads

logger = logging.getLogger(__name__)

# silhouette width: (upper bound, label, explanation).
VERDICT_BANDS: tuple[tuple[float, str, str], ...] = (
    (
        0.25,
        "no substantial structure",
        "Patients are barely closer to their own cluster than to the next one, "
        "so the clusters are cuts through one continuous cloud, not natural groups.",
    ),
    (
        0.50,
        "weak structure",
        "The clusters overlap a lot; they may be artificial, so check them with "
        "the stability analysis before reading meaning into them.",
    ),
    (
        0.70,
        "reasonable structure",
        "Most patients sit clearly closer to their own cluster than to any other.",
    ),
    (
        np.inf,
        "strong structure",
        "Clusters are compact and well separated from each other.",
    ),
)


@dataclass(frozen=True)
class KRecommendation:
    """Recommended k with the criteria that agree and disagree with it."""

    k: int
    reason: str
    agree: list[str]
    disagree: list[str]
    by_criterion: dict[str, int] = field(default_factory=dict)


def make_model(k: int, seed: int, n: int, minibatch_above: int) -> KMeans:
    """Return an unfitted KMeans, or MiniBatchKMeans above ``minibatch_above`` rows."""
    if n > minibatch_above:
        return MiniBatchKMeans(n_clusters=k, n_init=10, random_state=seed)
    return KMeans(n_clusters=k, n_init=10, random_state=seed)


def fit_model(
    k: int,
    seed: int,
    X: np.ndarray,
    minibatch_above: int,
    fit_sample_size: int = int(DEFAULTS["fit_sample_size"]),
) -> KMeans | MiniBatchKMeans:
    """Fit the model of ``make_model``; its ``labels_`` cover every row of ``X``.

    Above ``fit_sample_size`` rows (and ``minibatch_above``) the model is fitted
    on a seeded random sample of ``fit_sample_size`` rows, then ``labels_`` is
    set to the nearest centre of every row.
    """
    model = make_model(k, seed, X.shape[0], minibatch_above)
    if X.shape[0] <= max(fit_sample_size, minibatch_above):
        return model.fit(X)
    rng = np.random.default_rng(seed)
    model.fit(X[rng.choice(X.shape[0], fit_sample_size, replace=False)])
    model.labels_ = model.predict(X)
    return model


def silhouette_estimate(
    X: np.ndarray,
    labels: np.ndarray,
    seed: int,
    sample_above: int = int(DEFAULTS["silhouette_sample_above"]),
    sample_size: int = int(DEFAULTS["silhouette_sample_size"]),
) -> tuple[float, bool]:
    """Return the mean silhouette and whether it was estimated on a sample.

    Above ``sample_above`` rows, ``silhouette_score`` runs on a seeded random
    sample of ``sample_size`` rows, because the exact value needs all pairwise
    distances.
    """
    if X.shape[0] > sample_above:
        score = silhouette_score(X, labels, sample_size=sample_size, random_state=seed)
        return float(score), True
    return float(silhouette_score(X, labels)), False


def _within_dispersion(X: np.ndarray, k: int, seed: int, n_init: int = 10) -> float:
    if k == 1:
        return float(((X - X.mean(axis=0)) ** 2).sum())
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    return float(model.fit(X).inertia_)


@limit_native_threads
def gap_statistic(
    X: np.ndarray,
    k_values: list[int],
    seed: int,
    references: int = 10,
    observed: dict[int, float] | None = None,
    reference_inits: int = int(DEFAULTS["gap_reference_inits"]),
) -> pd.DataFrame:
    """Compute the gap statistic of Tibshirani, Walther and Hastie (2001).

    Parameters
    ----------
    X : numpy.ndarray
        Scaled matrix, shape (n, p).
    k_values : list of int
        Numbers of clusters; 1 is allowed.
    seed : int
        Seeds the uniform reference sets and every k-means fit.
    references : int
        Number B of reference sets drawn uniformly in the bounding box of X.
    observed : dict of int to float, optional
        Within-cluster sum of squares W(k) of X already computed by the
        caller, so that X is not clustered a second time.
    reference_inits : int
        k-means restarts on each reference set; see
        ``core.engine_settings.SETTINGS``.

    Returns
    -------
    pandas.DataFrame
        Columns ``k``, ``gap`` (mean log W* minus log W) and ``gap_se``
        (s_k = sd(log W*) * sqrt(1 + 1/B), sd with divisor B).
    """
    rng = np.random.default_rng(seed)
    low, high = X.min(axis=0), X.max(axis=0)
    reference_sets = [rng.uniform(low, high, size=X.shape) for _ in range(references)]
    rows = []
    observed = observed or {}
    for k in k_values:
        w = observed[k] if k in observed else _within_dispersion(X, k, seed)
        log_w = np.log(max(w, 1e-300))
        log_w_ref = np.log(
            [
                max(_within_dispersion(ref, k, seed, reference_inits), 1e-300)
                for ref in reference_sets
            ]
        )
        se = float(np.std(log_w_ref) * np.sqrt(1 + 1 / references))
        rows.append({"k": k, "gap": float(log_w_ref.mean() - log_w), "gap_se": se})
    return pd.DataFrame(rows)


@limit_native_threads
def sweep_k(
    X: np.ndarray,
    k_values: list[int],
    seed: int,
    *,
    gap_references: int = int(DEFAULTS["gap_references"]),
    gap_sample_size: int = int(DEFAULTS["gap_sample_size"]),
    silhouette_sample_above: int = int(DEFAULTS["silhouette_sample_above"]),
    silhouette_sample_size: int = int(DEFAULTS["silhouette_sample_size"]),
    minibatch_above: int = int(DEFAULTS["minibatch_above"]),
    fit_sample_size: int = int(DEFAULTS["fit_sample_size"]),
) -> pd.DataFrame:
    """Score each k with silhouette, inertia, Calinski-Harabasz, Davies-Bouldin, gap.

    Parameters
    ----------
    X : numpy.ndarray
        Scaled matrix, shape (n, p).
    k_values : list of int
        Candidate numbers of clusters, each between 2 and n - 1.
    seed : int
        Seed for k-means, silhouette sampling and gap reference sets.
    gap_references, gap_sample_size, silhouette_sample_above, \
silhouette_sample_size, minibatch_above, fit_sample_size : int
        Size settings; see ``core.engine_settings.SETTINGS``.

    Returns
    -------
    pandas.DataFrame
        One row per k with columns ``k``, ``silhouette``, ``inertia``,
        ``calinski_harabasz``, ``davies_bouldin``, ``gap``, ``gap_se`` and
        ``silhouette_estimated`` (True when the silhouette came from a sample).
    """
    sampled = _SampledSilhouette.above(
        X, seed, silhouette_sample_above, silhouette_sample_size
    )
    rows = []
    for k in k_values:
        labels = fit_model(k, seed, X, minibatch_above, fit_sample_size).labels_
        if sampled is None:
            sil, estimated = float(silhouette_score(X, labels)), False
        else:
            sil, estimated = sampled.score(labels), True
        rows.append(
            {
                "k": k,
                "silhouette": sil,
                "inertia": _inertia(X, labels),
                "calinski_harabasz": calinski_harabasz_score(X, labels),
                "davies_bouldin": davies_bouldin_score(X, labels),
                "silhouette_estimated": estimated,
            }
        )
    logger.info("Swept k over %s on %d patients", list(k_values), X.shape[0])

    gap_X, observed = X, {row["k"]: row["inertia"] for row in rows}
    if X.shape[0] > gap_sample_size:
        rng = np.random.default_rng(seed)
        gap_X = X[rng.choice(X.shape[0], gap_sample_size, replace=False)]
        observed = None
    gap = gap_statistic(gap_X, list(k_values), seed, gap_references, observed)
    sweep = pd.DataFrame(rows).merge(gap, on="k")
    columns = ["k", "silhouette", "inertia", "calinski_harabasz", "davies_bouldin"]
    return sweep[columns + ["gap", "gap_se", "silhouette_estimated"]]


@dataclass(frozen=True)
class _SampledSilhouette:
    """Silhouette of many labelings on one seeded sample and its distances.

    The rows are those ``silhouette_score(sample_size=..., random_state=seed)``
    draws, so each score equals that function's estimate, but the distance
    matrix (``sample_size`` squared floats) is computed once for all k.
    """

    rows: np.ndarray
    distances: np.ndarray

    @classmethod
    def above(cls, X, seed, sample_above, sample_size) -> "_SampledSilhouette | None":
        if X.shape[0] <= sample_above:
            return None
        rows = check_random_state(seed).permutation(X.shape[0])[:sample_size]
        return cls(rows, pairwise_distances(X[rows]))

    def score(self, labels: np.ndarray) -> float:
        sample_labels = labels[self.rows]
        return float(
            silhouette_score(self.distances, sample_labels, metric="precomputed")
        )


def _inertia(X: np.ndarray, labels: np.ndarray) -> float:
    # Within-cluster sum of squares to the member means; MiniBatchKMeans'
    # own inertia_ refers to its last batch state, so compute it directly.
    total = 0.0
    for label in np.unique(labels):
        members = X[labels == label]
        total += float(((members - members.mean(axis=0)) ** 2).sum())
    return total


def gap_rule_k(sweep: pd.DataFrame) -> int:
    """Return the smallest k with gap(k) >= gap(k+1) - s(k+1), else the largest k."""
    # NOTE: the sweep starts at k=2, so this rule cannot answer k=1 ("no
    # clusters") as Tibshirani et al. allow; the silhouette verdict covers that.
    ordered = sweep.sort_values("k").reset_index(drop=True)
    for i in range(len(ordered) - 1):
        nxt = ordered.iloc[i + 1]
        if ordered.loc[i, "gap"] >= nxt["gap"] - nxt["gap_se"]:
            return int(ordered.loc[i, "k"])
    return int(ordered["k"].iloc[-1])


def elbow_k(sweep: pd.DataFrame) -> int:
    """Return the k whose inertia lies farthest below the chord (kneedle style)."""
    ordered = sweep.sort_values("k")
    k = ordered["k"].to_numpy(dtype=float)
    w = ordered["inertia"].to_numpy(dtype=float)
    if len(k) < 3 or np.ptp(w) == 0:
        return int(k[0])
    x = (k - k[0]) / (k[-1] - k[0])
    y = (w - w.min()) / np.ptp(w)
    chord = y[0] + (y[-1] - y[0]) * x
    return int(k[np.argmax(chord - y)])


def recommend_k(sweep: pd.DataFrame) -> KRecommendation:
    """Recommend the k with the highest mean silhouette and compare other criteria.

    Parameters
    ----------
    sweep : pandas.DataFrame
        Output of ``sweep_k``.

    Returns
    -------
    KRecommendation
        ``k``, a one-sentence ``reason``, and the criteria (Calinski-Harabasz
        maximum, Davies-Bouldin minimum, gap rule, elbow) that pick the same
        k (``agree``) or another one (``disagree``, naming their k).
    """
    best = sweep.loc[sweep["silhouette"].idxmax()]
    k = int(best["k"])
    by_criterion = {
        "silhouette (highest)": k,
        "Calinski-Harabasz (highest)": int(
            sweep.loc[sweep["calinski_harabasz"].idxmax(), "k"]
        ),
        "Davies-Bouldin (lowest)": int(
            sweep.loc[sweep["davies_bouldin"].idxmin(), "k"]
        ),
        "gap statistic (Tibshirani rule)": gap_rule_k(sweep),
        "elbow of inertia": elbow_k(sweep),
    }
    agree = [name for name, value in by_criterion.items() if value == k]
    disagree = [
        f"{name} suggests k={value}"
        for name, value in by_criterion.items()
        if value != k
    ]
    reason = (
        f"k={k} has the highest mean silhouette ({best['silhouette']:.2f}) among "
        f"k={int(sweep['k'].min())} to {int(sweep['k'].max())}."
    )
    return KRecommendation(k, reason, agree, disagree, by_criterion)


def structure_verdict(silhouette: float) -> tuple[str, str]:
    """Return the Kaufman and Rousseeuw (1990) label and explanation for a silhouette.

    Bands of the mean silhouette width: at most 0.25 no substantial
    structure, up to 0.50 weak, up to 0.70 reasonable, above 0.70 strong.
    """
    for upper, label, explanation in VERDICT_BANDS:
        if silhouette <= upper:
            return label, explanation
    raise ValueError(f"Silhouette {silhouette!r} is not a number between -1 and 1.")
