"""The naive way for comparison: exact silhouette, full-batch k-means, raw charts.

A naive step runs only when its time, estimated from a pilot run on a
seeded sample, fits the budget; otherwise it reports the estimate. The
exact silhouette scales with n squared and full-batch k-means with n (for
a similar number of iterations), so the estimates assume those powers.
"""

import json
import time
from dataclasses import asdict, dataclass

import altair as alt
import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from core.schema import FEATURE_NAMES

SILHOUETTE_PILOT = 2_000
KMEANS_PILOT = 20_000
RAW_CHART_PILOT = 10_000
SEED = 42


@dataclass
class NaiveResult:
    """One naive computation: measured, or estimated when over the budget."""

    name: str
    value: float
    unit: str
    measured: bool
    detail: str = ""


def _pilot_rows(n: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(n, size=min(n, size), replace=False))


def _run_or_estimate(name, run, pilot_seconds, scale, budget) -> NaiveResult:
    estimate = pilot_seconds * scale
    if estimate > budget:
        return NaiveResult(
            name,
            estimate,
            "s",
            False,
            f"not run: would take ~{estimate:,.0f} s (estimated from a pilot run)",
        )
    start = time.perf_counter()
    run()
    return NaiveResult(name, time.perf_counter() - start, "s", True)


def exact_silhouette(X: np.ndarray, labels: np.ndarray, budget: float) -> NaiveResult:
    """Time ``silhouette_score`` on every row, or estimate it from n squared."""
    rows = _pilot_rows(len(X), SILHOUETTE_PILOT)
    start = time.perf_counter()
    silhouette_score(X[rows], labels[rows])
    pilot = time.perf_counter() - start
    scale = (len(X) / len(rows)) ** 2
    return _run_or_estimate(
        "exact silhouette, all rows",
        lambda: silhouette_score(X, labels),
        pilot,
        scale,
        budget,
    )


def full_batch_kmeans(X: np.ndarray, k: int, budget: float) -> NaiveResult:
    """Time ``KMeans(n_init=10)`` on every row, or estimate it from n."""
    rows = _pilot_rows(len(X), KMEANS_PILOT)

    def fit(matrix):
        # Single-threaded, as the engine runs its own fits.
        with threadpool_limits(limits=1):
            KMeans(n_clusters=k, n_init=10, random_state=SEED).fit(matrix)

    start = time.perf_counter()
    fit(X[rows])
    pilot = time.perf_counter() - start
    return _run_or_estimate(
        "full-batch KMeans at chosen k",
        lambda: fit(X),
        pilot,
        len(X) / len(rows),
        budget,
    )


def tree_per_query(X: np.ndarray, point: np.ndarray) -> NaiveResult:
    """Time a tree index built for one query against the engine's single scan."""
    neighbours = min(20, len(X))
    start = time.perf_counter()
    NearestNeighbors(n_neighbors=neighbours).fit(X).kneighbors(point[None, :])
    indexed = time.perf_counter() - start

    start = time.perf_counter()
    search = NearestNeighbors(n_neighbors=neighbours, algorithm="brute").fit(X)
    search.kneighbors(point[None, :])
    scan = time.perf_counter() - start
    return NaiveResult(
        "nearest 20 patients, tree index built per query",
        indexed,
        "s",
        True,
        f"brute-force scan: {scan:.3f} s",
    )


def raw_chart_bytes(features: pd.DataFrame) -> NaiveResult:
    """Measure the JSON of histograms, box plots and a scatter on raw rows.

    The spec of a chart that embeds every row grows linearly with the rows,
    so above ``RAW_CHART_PILOT`` rows the bytes per row of a seeded sample
    are scaled up to the whole cohort.
    """
    rows = _pilot_rows(len(features), RAW_CHART_PILOT)
    sample = features.iloc[rows].reset_index(drop=True)
    sample["cluster"] = np.arange(len(sample)) % 3
    total = 0
    with alt.data_transformers.disable_max_rows():
        for name in FEATURE_NAMES:
            histogram = (
                alt.Chart(sample[[name]])
                .mark_bar()
                .encode(x=alt.X(f"{name}:Q", bin=True), y="count()")
            )
            box = (
                alt.Chart(sample[[name, "cluster"]])
                .mark_boxplot()
                .encode(x=f"{name}:Q", y="cluster:N")
            )
            total += len(json.dumps(histogram.to_dict()))
            total += len(json.dumps(box.to_dict()))
        scatter = alt.Chart(sample[["age", "heart_rate", "cluster"]]).mark_circle()
        total += len(json.dumps(scatter.to_dict()))
    scaled = total * len(features) / len(rows)
    measured = len(rows) == len(features)
    detail = "" if measured else f"estimated from {len(rows):,} rows, linear in rows"
    return NaiveResult("chart JSON on raw rows", scaled, "bytes", measured, detail)


def as_dicts(results: list[NaiveResult]) -> list[dict]:
    """Return the results as plain dictionaries for JSON."""
    return [asdict(result) for result in results]
