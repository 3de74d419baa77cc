"""Place one patient against a fitted clustering.

A patient entered on the lookup form is validated, mapped through the fitted
pipeline, assigned to the nearest centroid and compared with the cohort:
percentiles, the most similar patients and clinical reference flags.
"""

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.neighbors import NearestNeighbors

from core.clustering import ClusterResult
from core.engine_settings import DEFAULTS
from core.errors import PatientInputError
from core.profiles import wilson_interval
from core.reference import evaluate_flags
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, feature_label

logger = logging.getLogger(__name__)


def _range_text(name: str) -> str:
    feature = FEATURE_BY_NAME[name]
    if name == "gender":
        return "1 for male or 0 for female"
    if math.isinf(feature.upper):
        return f"a value at or above {feature.lower:g} {feature.unit}"
    return f"a value from {feature.lower:g} to {feature.upper:g} {feature.unit}"


def _check_value(name: str, raw: object) -> tuple[float | None, str | None]:
    label = feature_label(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, f"{label} is missing; enter {_range_text(name)}."
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None, f"{label} is {raw!r}, not a number; enter {_range_text(name)}."
    if math.isnan(value):
        return None, f"{label} is missing; enter {_range_text(name)}."
    feature = FEATURE_BY_NAME[name]
    out_of_range = not feature.lower <= value <= feature.upper
    if out_of_range or (name == "gender" and value not in (0.0, 1.0)):
        return (
            None,
            f"{label} is {value:g}, outside the plausible range; "
            f"enter {_range_text(name)}.",
        )
    return value, None


def validate_patient(values: Mapping[str, object]) -> dict[str, float]:
    """Check the eight inputs of one patient and return them as floats.

    Parameters
    ----------
    values : mapping of str to number
        Canonical feature name to value in canonical units (see
        ``core.schema``).

    Returns
    -------
    dict of str to float
        The eight features in ``FEATURE_NAMES`` order.

    Raises
    ------
    PatientInputError
        Listing every missing or implausible value with its unit and range,
        and a diastolic pressure at or above the systolic one. The list is
        also stored on the exception as ``problems``.
    """
    clean, problems = {}, []
    for name in FEATURE_NAMES:
        value, problem = _check_value(name, values.get(name))
        if problem:
            problems.append(problem)
        else:
            clean[name] = value
    systolic, diastolic = clean.get("systolic_bp"), clean.get("diastolic_bp")
    if systolic is not None and diastolic is not None and diastolic >= systolic:
        problems.append(
            f"Diastolic blood pressure ({diastolic:g} mmHg) must be below systolic "
            f"blood pressure ({systolic:g} mmHg); check the two readings."
        )
    if problems:
        error = PatientInputError(
            "Please correct the patient's values: " + " ".join(problems)
        )
        error.problems = problems
        raise error
    return clean


@dataclass(frozen=True)
class Assignment:
    """Placement of one patient among the clusters.

    Attributes
    ----------
    cluster : int
        Number of the nearest centroid.
    name : str
        Name of that cluster.
    distances : dict of int to float
        Euclidean distance to every centroid in the scaled space.
    between_clusters : bool
        The two nearest distances differ by less than the margin setting.
    runner_up : int or None
        Second-nearest cluster, None when k is 1.
    warnings : list of str
        Out-of-distribution notes; empty when the patient is typical.
    x_scaled : numpy.ndarray
        The patient in the scaled space, shape (n_used_features,).
    """

    cluster: int
    name: str
    distances: dict[int, float]
    between_clusters: bool
    runner_up: int | None
    warnings: list[str] = field(default_factory=list)
    x_scaled: np.ndarray | None = None


def scale_patient(result: ClusterResult, patient: Mapping[str, object]) -> np.ndarray:
    """Validate ``patient`` and map it through the fitted pipeline, shape (p,)."""
    values = validate_patient(patient)
    frame = pd.DataFrame([values], columns=list(FEATURE_NAMES))
    return result.pipeline.transform(frame)[0]


def nearest_centroid(
    x_scaled: np.ndarray,
    centroids_scaled: np.ndarray,
    clusters: list[int],
    margin: float = DEFAULTS["between_clusters_margin"],
) -> tuple[int, dict[int, float], bool, int | None]:
    """Return the nearest cluster, all distances, the between flag and the runner-up.

    Also used for the alternative algorithms, whose patients are assigned by
    the nearest centroid of their clusters.
    """
    distance = np.linalg.norm(centroids_scaled - x_scaled, axis=1)
    order = np.argsort(distance, kind="stable")
    distances = {int(c): float(d) for c, d in zip(clusters, distance, strict=True)}
    if len(order) < 2:
        return int(clusters[order[0]]), distances, False, None
    first, second = distance[order[0]], distance[order[1]]
    between = bool(second - first < margin * first)
    return int(clusters[order[0]]), distances, between, int(clusters[order[1]])


def assign_patient(
    result: ClusterResult,
    patient: Mapping[str, object],
    margin: float = DEFAULTS["between_clusters_margin"],
) -> Assignment:
    """Assign one patient to the nearest centroid in the scaled space.

    For k-means these are the fitted centres. For another algorithm (see
    ``ClusterResult.assignment_note``) they are the member means, and patients
    in no cluster have no centroid, so a patient is never placed there.

    Parameters
    ----------
    result : ClusterResult
        A fitted clustering.
    patient : mapping of str to number
        The eight features in canonical units.
    margin : float
        "Between clusters" when the second-nearest distance exceeds the
        nearest by less than this fraction of the nearest.

    Returns
    -------
    Assignment
        ``warnings`` contains an out-of-distribution note when the distance to the
        assigned centroid exceeds the 99th percentile of its members'
        distances, and one for each feature outside the fitted cohort's range.

    Raises
    ------
    PatientInputError
        When an input is missing or implausible.
    """
    x = scale_patient(result, patient)
    clusters = result.clusters
    cluster, distances, between, runner_up = nearest_centroid(
        x, result.centroids_scaled, clusters, margin
    )
    warnings = []
    limit = result.member_distance_p99[cluster]
    if distances[cluster] > limit:
        warnings.append(
            f"The patient is farther from the centre of cluster {cluster} "
            f"({distances[cluster]:.2f}) than 99 % of its members ({limit:.2f}), "
            "so the cluster describes this patient poorly."
        )
    warnings += _range_warnings(result, validate_patient(patient))
    return Assignment(
        cluster, result.names[cluster], distances, between, runner_up, warnings, x
    )


def _range_warnings(result: ClusterResult, values: dict[str, float]) -> list[str]:
    warnings = []
    for name, value in values.items():
        low, high = result.feature_min[name], result.feature_max[name]
        if value < low or value > high:
            warnings.append(
                f"{feature_label(name)} of {value:g} is outside the range of the "
                f"cohort the clusters were fitted on ({low:g} to {high:g})."
            )
    return warnings


def patient_percentiles(
    features: pd.DataFrame,
    labels: np.ndarray,
    patient: Mapping[str, object],
    cluster: int,
) -> pd.DataFrame:
    """Return the patient's percentile per feature in the cohort and in a cluster.

    Parameters
    ----------
    features : pandas.DataFrame
        The fitted cohort, shape (n, 8) with ``FEATURE_NAMES``; NaN ignored.
    labels : numpy.ndarray
        Cluster number of each row, shape (n,).
    patient : mapping of str to number
        The eight features in canonical units.
    cluster : int
        Cluster to compare with, usually the assigned one.

    Returns
    -------
    pandas.DataFrame
        Index ``feature`` (all but gender); columns ``value``,
        ``cohort_percentile`` and ``cluster_percentile`` (0 to 100, ties
        counted half, as ``scipy.stats.percentileofscore(kind="mean")``).
    """
    values = validate_patient(patient)
    member = np.asarray(labels) == cluster
    rows = []
    for name in FEATURE_NAMES:
        if name == "gender":
            continue
        column = features[name].to_numpy(dtype=float)
        rows.append(
            {
                "feature": name,
                "value": values[name],
                "cohort_percentile": _percentile(column, values[name]),
                "cluster_percentile": _percentile(column[member], values[name]),
            }
        )
    return pd.DataFrame(rows).set_index("feature")


def _percentile(column: np.ndarray, value: float) -> float:
    column = column[~np.isnan(column)]
    if column.size == 0:
        return float("nan")
    return float(stats.percentileofscore(column, value, kind="mean"))


@dataclass(frozen=True)
class NeighbourSummary:
    """The patients most similar to one patient, and their outcome rate."""

    table: pd.DataFrame
    n_known: int
    events: int
    rate: float
    rate_low: float
    rate_high: float


def nearest_patients(
    result: ClusterResult,
    patient: Mapping[str, object],
    outcome: pd.Series | None = None,
    n_neighbors: int = int(DEFAULTS["nearest_patients"]),
) -> NeighbourSummary:
    """Find the cohort patients nearest to ``patient`` in the scaled space.

    Parameters
    ----------
    result : ClusterResult
        A fitted clustering; its ``X`` is searched.
    patient : mapping of str to number
        The eight features in canonical units.
    outcome : pandas.Series, optional
        1.0, 0.0 or NaN per cohort row, aligned with ``result.index``.
    n_neighbors : int
        Number of neighbours, capped at the cohort size.

    Returns
    -------
    NeighbourSummary
        ``table`` is indexed by cohort row with ``distance``, ``cluster`` and
        ``outcome``. The summary gives the outcome rate among neighbours with
        a known outcome and its Wilson 95 % interval, NaN without an outcome.
    """
    x = scale_patient(result, patient)
    n_neighbors = min(n_neighbors, result.X.shape[0])
    # One query scans the rows once; building a tree index per query would
    # cost n log n each time the page reruns.
    search = NearestNeighbors(n_neighbors=n_neighbors, algorithm="brute")
    search.fit(result.X)
    distance, position = search.kneighbors(x.reshape(1, -1))
    table = pd.DataFrame(
        {"distance": distance[0], "cluster": result.labels[position[0]]},
        index=result.index[position[0]],
    )
    table["outcome"] = np.nan
    if outcome is not None:
        aligned = outcome.reindex(result.index).to_numpy(dtype=float)
        table["outcome"] = aligned[position[0]]
    known = table["outcome"].dropna()
    events = int(known.sum())
    low, high = wilson_interval(events, len(known))
    rate = events / len(known) if len(known) else float("nan")
    return NeighbourSummary(table, len(known), events, rate, low, high)


def reference_flags(
    patient: Mapping[str, object], overrides: Mapping[str, float] | None = None
) -> pd.DataFrame:
    """Return the clinical reference flags the patient's values raise.

    Returns
    -------
    pandas.DataFrame
        One row per raised flag with ``id``, ``feature``, ``value``,
        ``comparison``, ``threshold``, ``unit``, ``label`` and ``source``.
    """
    values = validate_patient(patient)
    rows = [
        {
            "id": ref.id,
            "feature": ref.feature,
            "value": values[ref.feature],
            "comparison": ref.comparison,
            "threshold": ref.threshold,
            "unit": ref.unit,
            "label": ref.label,
            "source": ref.source,
        }
        for ref in evaluate_flags(values, overrides)
    ]
    columns = ["id", "feature", "value", "comparison", "threshold", "unit"]
    return pd.DataFrame(rows, columns=columns + ["label", "source"])
