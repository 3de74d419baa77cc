"""Tests for the synthetic demo cohort generator and its committed CSV."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import demo

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_COHORT = REPO_ROOT.parent / "shared" / "datasets" / "heart_attack_zheen.csv"
CONTINUOUS = list(demo.PERCENTILES)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return demo.make_demo_cohort()


@pytest.fixture(scope="module")
def clean(cohort: pd.DataFrame) -> pd.DataFrame:
    # Leave out the injected heart-rate errors and swapped pressures.
    plausible_rate = cohort["Heart rate"] != demo.HEART_RATE_ERROR_VALUE
    ordered = cohort["Systolic blood pressure"] > cohort["Diastolic blood pressure"]
    return cohort[plausible_rate & ordered]


def percentile_constant(column: str, percent: float) -> float:
    points = np.array(demo.PERCENTILES[column], dtype=float)
    return float(np.interp(percent, points[:, 0], points[:, 1]))


def test_committed_csv_matches_regeneration(cohort):
    """The committed CSV is exactly what the seeded generator writes."""
    assert demo.DEMO_PATH.read_bytes() == demo.demo_csv_bytes(cohort)


def test_same_seed_same_table():
    """Two runs with one seed give equal tables."""
    first = demo.make_demo_cohort(seed=7, n_patients=200)
    second = demo.make_demo_cohort(seed=7, n_patients=200)
    pd.testing.assert_frame_equal(first, second)


def test_other_seed_other_table():
    """A different seed gives a different table."""
    first = demo.make_demo_cohort(seed=7, n_patients=200)
    second = demo.make_demo_cohort(seed=8, n_patients=200)
    assert not first.equals(second)


def test_columns_and_size(cohort):
    """The table has the upload column names in order and the default size."""
    assert tuple(cohort.columns) == demo.COLUMNS
    assert len(cohort) == demo.DEMO_SIZE


def test_label_says_synthetic():
    """The label and the file name mark the data as synthetic demo data."""
    assert "synthetic" in demo.DEMO_LABEL.lower()
    assert "demo" in demo.DEMO_FILENAME


@pytest.mark.parametrize("n_patients", [0, 9, -1])
def test_too_small_size_rejected(n_patients):
    """Sizes too small for the deliberate quirks raise ValueError."""
    with pytest.raises(ValueError, match="at least 10"):
        demo.make_demo_cohort(n_patients=n_patients)


@pytest.mark.parametrize("column", CONTINUOUS)
@pytest.mark.parametrize("percent", [25, 50, 75])
def test_quartiles_near_constants(clean, column, percent):
    """Each quartile lies within a tenth of the interquartile range of its constant."""
    spread = percentile_constant(column, 75) - percentile_constant(column, 25)
    observed = float(np.percentile(clean[column], percent))
    assert abs(observed - percentile_constant(column, percent)) <= 0.1 * spread


@pytest.mark.parametrize("column", CONTINUOUS)
def test_values_within_range(clean, column):
    """Values stay inside the calibrated minimum and maximum."""
    low, high = demo.PERCENTILES[column][0][1], demo.PERCENTILES[column][-1][1]
    assert clean[column].min() >= low
    assert clean[column].max() <= high


@pytest.mark.parametrize("column", ["CK-MB", "Troponin"])
def test_biomarkers_right_skewed(clean, column):
    """CK-MB and troponin are strongly right-skewed, as assay values are."""
    assert clean[column].skew() > 3


def test_gender_share(cohort):
    """The share of men is within 4 points of the calibrated share."""
    assert abs(cohort["Gender"].mean() - demo.MALE_SHARE) <= 0.04


def test_gender_is_binary(cohort):
    """Gender holds only 0 and 1."""
    assert set(cohort["Gender"].unique()) == {0, 1}


def test_outcome_share(cohort):
    """About 61 % of patients are positive, as in the calibration cohort."""
    share = (cohort["Result"] == "positive").mean()
    assert 0.56 <= share <= 0.66


def test_outcome_follows_biomarkers(cohort):
    """The outcome agrees with the biomarker rule for at least 96 % of rows."""
    above = (cohort["Troponin"] > demo.TROPONIN_LIMIT) | (
        cohort["CK-MB"] > demo.CK_MB_LIMIT
    )
    agreement = (above == (cohort["Result"] == "positive")).mean()
    assert agreement >= 0.96


def test_outcome_has_noise(cohort):
    """Some labels disagree with the rule, so the rule is not the label."""
    above = (cohort["Troponin"] > demo.TROPONIN_LIMIT) | (
        cohort["CK-MB"] > demo.CK_MB_LIMIT
    )
    assert (above != (cohort["Result"] == "positive")).sum() > 0


@pytest.mark.parametrize(("pair", "target"), list(demo.SPEARMAN.items()))
def test_listed_correlations(clean, pair, target):
    """Each listed Spearman correlation is within 0.08 of its constant."""
    observed = clean[list(pair)].corr(method="spearman").iloc[0, 1]
    assert abs(observed - target) <= 0.08


def test_unlisted_correlations_weak(clean):
    """Pairs without a constant have a Spearman correlation below 0.1."""
    matrix = clean[list(demo.COLUMNS[:-1])].corr(method="spearman")
    listed = {frozenset(pair) for pair in demo.SPEARMAN}
    for i, first in enumerate(matrix.columns):
        for second in matrix.columns[i + 1 :]:
            if frozenset((first, second)) not in listed:
                assert abs(matrix.loc[first, second]) < 0.1, (first, second)


def test_heart_rate_errors(cohort):
    """Exactly the deliberate number of heart rates is 1111."""
    errors = (cohort["Heart rate"] == demo.HEART_RATE_ERROR_VALUE).sum()
    assert errors == demo.HEART_RATE_ERRORS


def test_systolic_at_or_below_diastolic(cohort):
    """At least the swapped rows have systolic at or below diastolic."""
    swapped = cohort["Systolic blood pressure"] <= cohort["Diastolic blood pressure"]
    assert swapped.sum() >= demo.SWAPPED_PRESSURES


def test_ck_mb_ceiling(cohort):
    """Some CK-MB values sit at the assay ceiling of 300 ng/mL."""
    assert (cohort["CK-MB"] == 300).sum() >= 5


def test_correlation_matrix_valid():
    """The copula matrix is symmetric with a unit diagonal and positive definite."""
    matrix = demo.latent_correlation()
    assert np.allclose(matrix, matrix.T)
    assert np.allclose(np.diag(matrix), 1)
    assert np.linalg.eigvalsh(matrix).min() > 0


@pytest.mark.real_cohort
@pytest.mark.parametrize("column", CONTINUOUS)
def test_medians_match_real_cohort(clean, column):
    """Demo medians are within a tenth of the real cohort's interquartile range."""
    if not REAL_COHORT.is_file():
        pytest.skip(f"real cohort not found at {REAL_COHORT}")
    real = pd.read_csv(REAL_COHORT)
    real = real[real["Heart rate"] != demo.HEART_RATE_ERROR_VALUE]
    spread = real[column].quantile(0.75) - real[column].quantile(0.25)
    assert abs(clean[column].median() - real[column].median()) <= 0.1 * spread
