"""Describe clusters: feature summaries, z-score profiles and outcome rates.

The outcome never shapes the clusters; these functions only describe how it
is distributed across clusters that were found without it.
"""

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.schema import FEATURE_BY_NAME, FEATURE_NAMES

logger = logging.getLogger(__name__)

OUTCOME_FOLLOWS_BIOMARKERS_NOTE = (
    "On the real cohort used to calibrate this app, the heart-attack label largely "
    "follows the biomarkers: troponin above 0.014 ng/mL or CK-MB above 6.3 ng/mL "
    "reproduces it for about 98.6 % of patients. Clusters that separate the "
    "outcome are therefore, in effect, troponin and CK-MB groups, not a discovery."
)
CONTINUITY_NOTE = (
    "When a cluster or the rest of the cohort has zero events or zero non-events, "
    "0.5 is added to all four cells before the relative risk and its interval "
    "are computed (continuity correction)."
)


def wilson_interval(
    successes: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Return the Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of events, 0 <= successes <= n.
    n : int
        Number of trials; ``n == 0`` gives ``(nan, nan)``.
    confidence : float
        Confidence level between 0 and 1.

    Returns
    -------
    tuple of float
        Lower and upper limits as proportions (0 to 1).
    """
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)


def cluster_profiles(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Summarise each cluster: size, share and median with quartiles per feature.

    Parameters
    ----------
    features : pandas.DataFrame
        Shape (n, 8) with the ``FEATURE_NAMES`` columns in canonical units.
    labels : numpy.ndarray
        Cluster number of each row, shape (n,).

    Returns
    -------
    pandas.DataFrame
        Index ``cluster``; columns ``size``, ``share`` (0 to 1) and, for each
        feature, ``<feature>_median``, ``<feature>_q1``, ``<feature>_q3``.
        Gender is summarised as ``gender_share_male`` (0 to 1) instead.
    """
    grouped = features.groupby(np.asarray(labels))
    table = pd.DataFrame({"size": grouped.size()})
    table["share"] = table["size"] / len(features)
    for name in FEATURE_NAMES:
        if name == "gender":
            table["gender_share_male"] = grouped["gender"].mean()
            continue
        table[f"{name}_median"] = grouped[name].median()
        table[f"{name}_q1"] = grouped[name].quantile(0.25)
        table[f"{name}_q3"] = grouped[name].quantile(0.75)
    table.index.name = "cluster"
    return table


def standardise(features: pd.DataFrame, log_transform: bool = True) -> pd.DataFrame:
    """Return z-scores of every feature against the cohort, after optional log1p.

    Skewed laboratory features get ``log1p`` first when ``log_transform``.
    A constant column gives z = 0 and NaN stays NaN.
    """
    values = features.loc[:, list(FEATURE_NAMES)].astype(float)
    for name in FEATURE_NAMES:
        if log_transform and FEATURE_BY_NAME[name].skewed:
            values[name] = np.log1p(values[name].clip(lower=0))
    sd = values.std(ddof=0).replace(0, 1.0)
    return (values - values.mean()) / sd


def centroid_z_scores(
    features: pd.DataFrame, labels: np.ndarray, log_transform: bool = True
) -> pd.DataFrame:
    """Return each cluster's mean z-score for every feature.

    Parameters
    ----------
    features : pandas.DataFrame
        Shape (n, 8) with the ``FEATURE_NAMES`` columns.
    labels : numpy.ndarray
        Cluster number of each row, shape (n,).
    log_transform : bool
        Standardise ``log1p`` of the skewed labs, as the clustering does.

    Returns
    -------
    pandas.DataFrame
        Index ``cluster``, one column per feature; 0 means the cohort mean,
        1 one cohort standard deviation above it.
    """
    z = standardise(features, log_transform).groupby(np.asarray(labels)).mean()
    z.index.name = "cluster"
    return z.fillna(0.0)


def _relative_risk(a: float, n1: float, c: float, n2: float) -> tuple[float, ...]:
    # Katz log method: se(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n2).
    corrected = min(a, n1 - a, c, n2 - c) == 0
    if corrected:
        a, c, n1, n2 = a + 0.5, c + 0.5, n1 + 1.0, n2 + 1.0
    rr = (a / n1) / (c / n2)
    se = np.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    z = stats.norm.ppf(0.975)
    return rr, rr * np.exp(-z * se), rr * np.exp(z * se), corrected


def outcome_by_cluster(outcome: pd.Series, labels: np.ndarray) -> pd.DataFrame:
    """Tabulate the outcome per cluster with Wilson and relative-risk intervals.

    Parameters
    ----------
    outcome : pandas.Series
        1.0 event, 0.0 no event, NaN unknown; shape (n,), aligned with labels.
    labels : numpy.ndarray
        Cluster number of each row, shape (n,).

    Returns
    -------
    pandas.DataFrame
        Index ``cluster``. Columns ``n`` (known outcomes), ``unknown`` (NaN
        outcomes, left out), ``events``, ``rate`` with its Wilson 95 % limits
        ``rate_low`` and ``rate_high``, and ``cohort_rate``. Then
        ``relative_risk`` against the rest of the cohort with its Katz 95 %
        limits ``rr_low`` and ``rr_high``, and ``continuity_corrected`` (see
        ``CONTINUITY_NOTE``).
    """
    values = np.asarray(outcome, dtype=float)
    labels = np.asarray(labels)
    known = ~np.isnan(values)
    total_n, total_events = int(known.sum()), float(values[known].sum())
    rows = []
    for cluster in np.unique(labels):
        member = labels == cluster
        n = int((member & known).sum())
        events = float(values[member & known].sum())
        low, high = wilson_interval(int(events), n)
        row = {"cluster": cluster, "n": n, "unknown": int((member & ~known).sum())}
        row |= {"events": int(events), "rate": events / n if n else np.nan}
        row |= {"rate_low": low, "rate_high": high}
        rest_n = total_n - n
        rr = (np.nan, np.nan, np.nan, False)
        if n and rest_n:
            rr = _relative_risk(events, n, total_events - events, rest_n)
        row |= dict(zip(["relative_risk", "rr_low", "rr_high"], rr[:3], strict=True))
        row["continuity_corrected"] = bool(rr[3])
        rows.append(row)
    table = pd.DataFrame(rows).set_index("cluster")
    cohort_rate = total_events / total_n if total_n else np.nan
    table.insert(6, "cohort_rate", cohort_rate)
    return table


@dataclass(frozen=True)
class AssociationResult:
    """Test of independence between cluster and outcome, with a plain sentence.

    ``statistic`` is the chi-square statistic, or the sample odds ratio for
    Fisher's exact test.
    """

    test: str
    statistic: float
    p_value: float
    dof: int
    sentence: str
    warning: str | None


def outcome_association(outcome: pd.Series, labels: np.ndarray) -> AssociationResult:
    """Test whether the outcome rate differs between clusters.

    Uses the chi-square test of independence (``scipy.stats.chi2_contingency``)
    on the cluster x outcome table, or Fisher's exact test for a 2 x 2 table
    with an expected count below 5. For larger tables with an expected count
    below 5, ``warning`` states that the chi-square approximation is unreliable.
    Rows with an unknown outcome are left out.

    Parameters
    ----------
    outcome : pandas.Series
        1.0, 0.0 or NaN per row, shape (n,).
    labels : numpy.ndarray
        Cluster number of each row, shape (n,).

    Returns
    -------
    AssociationResult
    """
    values = np.asarray(outcome, dtype=float)
    known = ~np.isnan(values)
    table = pd.crosstab(np.asarray(labels)[known], values[known])
    if table.shape[0] < 2 or table.shape[1] < 2:
        return AssociationResult(
            "none",
            np.nan,
            np.nan,
            0,
            "The association cannot be tested: it needs at least two clusters "
            "with a known outcome and both outcome values present.",
            None,
        )
    chi2, p, dof, expected = stats.chi2_contingency(table.to_numpy(), correction=False)
    test, warning = "chi-square", None
    if expected.min() < 5 and table.shape == (2, 2):
        chi2, p = stats.fisher_exact(table.to_numpy())
        test, dof = "Fisher's exact", 1
    elif expected.min() < 5:
        warning = (
            f"An expected count is {expected.min():.1f}, below 5, so the chi-square "
            "approximation is unreliable; read the p-value with caution."
        )
    return AssociationResult(
        test, float(chi2), float(p), int(dof), _sentence(p, test), warning
    )


def _sentence(p: float, test: str) -> str:
    p_text = "< 0.001" if p < 0.001 else f"= {p:.3f}"
    if p >= 0.05:
        return f"The clusters do not separate the outcome (p {p_text}, {test} test)."
    return (
        f"The outcome rate differs between clusters (p {p_text}, {test} test). "
        "This is an association, not evidence that cluster membership causes it."
    )
