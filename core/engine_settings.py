"""Settings of the clustering engine, each with a default and the reason for it.

Pages show this table so that every size threshold the engine applies is
visible; callers pass other values through the settings dataclasses.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Setting:
    """One engine setting with its default and the reason for that default."""

    name: str
    default: float
    unit: str
    reason: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "silhouette_sample_above",
        10_000,
        "patients",
        "The silhouette needs all pairwise distances (quadratic in n). Above this "
        "size it is estimated on a seeded random sample and reported as an estimate.",
    ),
    Setting(
        "silhouette_sample_size",
        5_000,
        "patients",
        "Sample size for the silhouette estimate on large cohorts.",
    ),
    Setting(
        "minibatch_above",
        50_000,
        "patients",
        "Above this size MiniBatchKMeans replaces KMeans to keep fitting fast; its "
        "clusters are close to, but not identical with, full k-means.",
    ),
    Setting(
        "fit_sample_size",
        100_000,
        "patients",
        "Above this size k-means is fitted on a seeded random sample of this many "
        "patients, and every patient is then assigned to the nearest centre. "
        "scikit-learn 1.9's MiniBatchKMeans draws each mini-batch at a cost "
        "linear in the cohort size, so on 1,000,000 patients one fit took up to "
        "2.4 s against 0.2 s on the sample (2-core machine, benchmarks.run).",
    ),
    Setting(
        "gap_references",
        10,
        "reference sets",
        "Number of uniform reference data sets B for the gap statistic "
        "(Tibshirani, Walther and Hastie 2001).",
    ),
    Setting(
        "gap_reference_inits",
        3,
        "restarts",
        "k-means restarts on each uniform reference set of the gap statistic. "
        "Uniform data has no clusters to miss, so a few restarts give a stable "
        "W*(k), and 10 restarts on 10 sets for 9 values of k cost 900 fits.",
    ),
    Setting(
        "gap_sample_size",
        5_000,
        "patients",
        "Above this size the gap statistic is computed on a seeded sample, because "
        "it refits k-means B times per k.",
    ),
    Setting(
        "bootstrap_resamples",
        100,
        "resamples",
        "Bootstrap resamples for cluster stability (Hennig 2007).",
    ),
    Setting(
        "bootstrap_sample_above",
        10_000,
        "patients",
        "Above this size each stability resample draws this many patients with "
        "replacement instead of the whole cohort.",
    ),
    Setting(
        "quadratic_algorithm_limit",
        10_000,
        "patients",
        "Ward linkage and HDBSCAN need memory and time quadratic in n; larger "
        "cohorts are rejected for them.",
    ),
    Setting(
        "between_clusters_margin",
        0.10,
        "fraction",
        "A patient is 'between clusters' when the two nearest centroid distances "
        "differ by less than this fraction of the nearest one.",
    ),
    Setting(
        "native_threads",
        1,
        "threads",
        "k-means, the Gaussian mixture and HDBSCAN run their OpenMP and BLAS "
        "code single-threaded. Streamlit serves sessions as threads of one "
        "process, and spinning OpenMP threads competing for busy cores can slow "
        "a fit by orders of magnitude; on cohorts of a few thousand patients "
        "one thread costs little.",
    ),
    Setting(
        "nearest_patients",
        20,
        "patients",
        "Number of most similar cohort patients shown on the lookup page.",
    ),
)
DEFAULTS: dict[str, float] = {s.name: s.default for s in SETTINGS}


def limit_native_threads(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``func`` with OpenMP and BLAS limited to the ``native_threads`` setting."""

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with threadpool_limits(limits=int(DEFAULTS["native_threads"])):
            return func(*args, **kwargs)

    return wrapper
