"""Tests for core.profiles: Wilson interval, summaries, relative risk, tests."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from core.profiles import (
    OUTCOME_FOLLOWS_BIOMARKERS_NOTE,
    centroid_z_scores,
    cluster_profiles,
    outcome_association,
    outcome_by_cluster,
    wilson_interval,
)
from core.schema import FEATURE_NAMES

Z95 = 1.959963984540054


def wilson_by_hand(x, n, z=Z95):
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def katz_by_hand(a, n1, c, n2):
    rr = (a / n1) / (c / n2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)
    return rr, rr * math.exp(-Z95 * se), rr * math.exp(Z95 * se)


def tiny_features(seed=0, n=12):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(50, 10, size=(n, 8)), columns=list(FEATURE_NAMES))
    frame["gender"] = rng.integers(0, 2, n).astype(float)
    frame[["blood_sugar", "ck_mb", "troponin"]] = rng.lognormal(1, 1, size=(n, 3))
    return frame


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 10), (10, 10), (81, 263), (1, 1)])
def test_wilson_matches_hand_formula(x, n):
    """wilson_interval equals the Wilson score formula computed by hand."""
    low, high = wilson_interval(x, n)
    expected_low, expected_high = wilson_by_hand(x, n)
    assert low == pytest.approx(expected_low, abs=1e-12)
    assert high == pytest.approx(expected_high, abs=1e-12)


def test_wilson_empty_is_nan():
    """No trials give NaN limits instead of an error."""
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_90_percent_narrower():
    """A lower confidence level gives a narrower interval."""
    low95, high95 = wilson_interval(30, 100)
    low90, high90 = wilson_interval(30, 100, confidence=0.90)
    assert high90 - low90 < high95 - low95


def test_cluster_profiles_hand_values():
    """Size, share, median, quartiles and male share match numpy by hand."""
    features = tiny_features()
    labels = np.array([1] * 7 + [2] * 5)
    table = cluster_profiles(features, labels)
    members = features["age"].to_numpy()[labels == 2]
    assert table.loc[2, "size"] == 5
    assert table.loc[2, "share"] == pytest.approx(5 / 12)
    assert table.loc[2, "age_median"] == pytest.approx(np.median(members))
    assert table.loc[2, "age_q1"] == pytest.approx(np.percentile(members, 25))
    assert table.loc[2, "age_q3"] == pytest.approx(np.percentile(members, 75))
    male = features["gender"].to_numpy()[labels == 1].mean()
    assert table.loc[1, "gender_share_male"] == pytest.approx(male)


@pytest.mark.parametrize("log_transform", [True, False])
def test_centroid_z_scores_hand_values(log_transform):
    """Cluster mean z-scores equal the hand standardisation of each column."""
    features = tiny_features(seed=1)
    labels = np.array([1, 2] * 6)
    z = centroid_z_scores(features, labels, log_transform)
    values = features["troponin"].to_numpy()
    values = np.log1p(values) if log_transform else values
    expected = ((values - values.mean()) / values.std())[labels == 2].mean()
    assert z.loc[2, "troponin"] == pytest.approx(expected)


def test_centroid_z_scores_constant_column_zero():
    """A constant column gives z = 0 for every cluster, not NaN."""
    features = tiny_features()
    features["age"] = 40.0
    z = centroid_z_scores(features, np.array([1, 2] * 6))
    assert (z["age"] == 0.0).all()


@pytest.fixture
def outcome_table():
    labels = np.array([1, 1, 1, 1, 2, 2, 2, 2, 2])
    outcome = pd.Series([1, 1, 0, np.nan, 0, 0, 1, 0, 0], dtype=float)
    return outcome, labels, outcome_by_cluster(outcome, labels)


def test_outcome_counts_leave_out_unknown(outcome_table):
    """n and events count known outcomes only; unknown ones are counted apart."""
    _, _, table = outcome_table
    assert table.loc[1, "n"] == 3
    assert table.loc[1, "unknown"] == 1
    assert table.loc[1, "events"] == 2
    assert table.loc[1, "rate"] == pytest.approx(2 / 3)


def test_outcome_cohort_rate(outcome_table):
    """The cohort rate is events over known outcomes (3 of 8)."""
    _, _, table = outcome_table
    assert table["cohort_rate"].eq(3 / 8).all()


def test_relative_risk_matches_katz(outcome_table):
    """Relative risk and its interval equal the Katz log formulas by hand."""
    _, _, table = outcome_table
    rr, low, high = katz_by_hand(2, 3, 1, 5)
    assert table.loc[1, "relative_risk"] == pytest.approx(rr)
    assert table.loc[1, "rr_low"] == pytest.approx(low)
    assert table.loc[1, "rr_high"] == pytest.approx(high)
    assert not table.loc[1, "continuity_corrected"]


def test_relative_risk_zero_cell_corrected():
    """A cluster with no non-events gets the 0.5 continuity correction."""
    labels = np.array([1, 1, 1, 2, 2, 2, 2])
    outcome = pd.Series([1, 1, 1, 0, 1, 0, 0], dtype=float)
    table = outcome_by_cluster(outcome, labels)
    rr, low, high = katz_by_hand(3.5, 4, 1.5, 5)
    assert table.loc[1, "continuity_corrected"]
    assert table.loc[1, "relative_risk"] == pytest.approx(rr)
    assert table.loc[1, "rr_low"] == pytest.approx(low)
    assert table.loc[1, "rr_high"] == pytest.approx(high)


def test_rate_interval_is_wilson(outcome_table):
    """Each cluster's interval is the Wilson interval of its counts."""
    _, _, table = outcome_table
    low, high = wilson_by_hand(1, 5)
    assert table.loc[2, "rate_low"] == pytest.approx(low)
    assert table.loc[2, "rate_high"] == pytest.approx(high)


def test_chi_square_matches_hand_statistic():
    """On a large 3 x 2 table the statistic is sum((O - E)^2 / E)."""
    counts = np.array([[40, 60], [70, 30], [50, 50]])
    labels = np.repeat([1, 2, 3], counts.sum(axis=1))
    outcome = np.concatenate([[1] * a + [0] * b for b, a in counts])
    result = outcome_association(pd.Series(outcome, dtype=float), labels)
    table = np.array([[60, 40], [30, 70], [50, 50]])
    expected = np.outer(table.sum(1), table.sum(0)) / table.sum()
    assert result.test == "chi-square"
    assert result.statistic == pytest.approx(((table - expected) ** 2 / expected).sum())
    assert result.dof == 2
    assert result.p_value == pytest.approx(stats.chi2.sf(result.statistic, 2))


def test_small_two_by_two_uses_fisher():
    """A 2 x 2 table with an expected count below 5 uses Fisher's exact test."""
    labels = np.array([1] * 6 + [2] * 6)
    outcome = pd.Series([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1], dtype=float)
    result = outcome_association(outcome, labels)
    _, expected_p = stats.fisher_exact([[1, 5], [5, 1]])
    assert result.test == "Fisher's exact"
    assert result.p_value == pytest.approx(expected_p)


def test_small_large_table_warns():
    """A 3 x 2 table with small expected counts warns about the approximation."""
    labels = np.array([1] * 6 + [2] * 6 + [3] * 3)
    outcome = pd.Series([1] * 5 + [0] + [0] * 5 + [1] + [1, 0, 1], dtype=float)
    result = outcome_association(outcome, labels)
    assert result.test == "chi-square"
    assert "unreliable" in result.warning


def test_no_separation_sentence():
    """Equal rates give p >= 0.05 and the plain 'do not separate' sentence."""
    labels = np.repeat([1, 2], 50)
    outcome = pd.Series(np.tile([1.0, 0.0], 50))
    result = outcome_association(outcome, labels)
    assert result.p_value >= 0.05
    assert result.sentence.startswith("The clusters do not separate the outcome (p = ")


def test_single_outcome_value_cannot_be_tested():
    """With only one outcome value present no test is run."""
    result = outcome_association(pd.Series([1.0] * 6), np.array([1, 1, 1, 2, 2, 2]))
    assert result.test == "none"
    assert math.isnan(result.p_value)


def test_biomarker_note_states_thresholds():
    """The note gives the troponin and CK-MB thresholds and the agreement."""
    for fact in ("0.014 ng/mL", "6.3 ng/mL", "98.6 %"):
        assert fact in OUTCOME_FOLLOWS_BIOMARKERS_NOTE
