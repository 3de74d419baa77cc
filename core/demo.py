"""Seeded synthetic demo cohort shaped like a real emergency-department cohort.

The generator draws correlated normal scores (a Gaussian copula), maps each
through a quantile function interpolated between the real cohort's percentiles,
then injects a few data-entry quirks and derives the outcome from the
biomarkers with a little label noise. No row of any real cohort is used.

Every number in the constants below is a summary statistic of the Zheen
Hospital cohort: 1,318 adults, Erbil, Iraq, January to May 2019, published as
"Heart Attack Dataset" by Tarik A. Rashid and Bryar Hassan, Mendeley Data, V1,
2022, doi:10.17632/wmhctcrt5v.1. The percentiles of heart rate leave out its
two data-entry errors of 1111 beats/min.
"""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

logger = logging.getLogger(__name__)

DEMO_LABEL = "Synthetic demo cohort (seeded, calibrated on summary statistics)"
DEMO_FILENAME = "demo_cohort.csv"
DEMO_PATH = Path(__file__).resolve().parent.parent / "data" / DEMO_FILENAME
DEMO_SEED = 20190501
DEMO_SIZE = 1300

COLUMNS = (
    "Age",
    "Gender",
    "Heart rate",
    "Systolic blood pressure",
    "Diastolic blood pressure",
    "Blood sugar",
    "CK-MB",
    "Troponin",
    "Result",
)

# Share of men (Gender 1) in the Zheen cohort: 869 of 1,318.
MALE_SHARE = 0.659

# Percentile points (percent, value) of each continuous column in the Zheen
# cohort. A flat run at the top is an assay ceiling: CK-MB is reported as 300
# ng/mL above its range, troponin near 10 ng/mL.
PERCENTILES: dict[str, tuple[tuple[float, float], ...]] = {
    "Age": (
        (0, 14), (1, 22.15), (5, 31), (10, 38), (25, 47), (50, 58),
        (75, 65), (90, 72), (95, 76), (99, 86), (100, 103),
    ),
    "Heart rate": (
        (0, 20), (1, 51), (5, 58), (10, 60), (25, 64), (50, 74),
        (75, 85), (90, 94), (95, 103), (99, 121.7), (100, 135),
    ),
    "Systolic blood pressure": (
        (0, 42), (1, 76), (5, 91), (10, 96), (25, 110), (50, 124),
        (75, 143), (90, 160), (95, 170.25), (99, 208), (100, 223),
    ),
    "Diastolic blood pressure": (
        (0, 38), (1, 44), (5, 51), (10, 55), (25, 62), (50, 72),
        (75, 81), (90, 90), (95, 95.25), (99, 106.85), (100, 154),
    ),
    "Blood sugar": (
        (0, 35), (1, 67.15), (5, 83), (10, 88), (25, 98), (50, 116),
        (75, 170), (90, 245.5), (95, 307.25), (99, 420.95), (100, 541),
    ),
    "CK-MB": (
        (0, 0.321), (1, 0.518), (5, 0.8485), (10, 1.13), (25, 1.6575),
        (50, 2.85), (75, 5.8125), (90, 25.46), (95, 71.11), (97, 139.05),
        (98, 250.32), (98.6, 300), (100, 300),
    ),
    "Troponin": (
        (0, 0.001), (1, 0.003), (10, 0.003), (25, 0.006), (50, 0.014),
        (75, 0.0853), (90, 0.995), (95, 1.8525), (97, 2.685), (98, 3.656),
        (99, 5.989), (99.5, 10), (100, 10),
    ),
}  # fmt: skip

# Columns interpolated on the log scale, which keeps their right skew.
LOG_SCALE = frozenset({"Blood sugar", "CK-MB", "Troponin"})

# Spearman rank correlations of the Zheen cohort. Pairs not listed are within
# 0.04 of zero there, so they are drawn independent.
SPEARMAN: dict[tuple[str, str], float] = {
    ("Age", "Gender"): -0.10,
    ("Age", "Troponin"): 0.37,
    ("Gender", "Troponin"): 0.14,
    ("Heart rate", "Diastolic blood pressure"): 0.14,
    ("Systolic blood pressure", "Diastolic blood pressure"): 0.61,
    ("CK-MB", "Troponin"): -0.05,
}

# The Zheen label follows troponin above 0.014 ng/mL or CK-MB above 6.3 ng/mL
# for 98.6 % of patients: 3 of 796 patients above a limit are negative and
# 16 of 522 below both are positive. These rates are the label noise here.
TROPONIN_LIMIT = 0.014
CK_MB_LIMIT = 6.3
NEGATIVE_ABOVE_LIMIT = 3 / 796
POSITIVE_BELOW_LIMITS = 16 / 522

# Deliberate data-entry quirks for the data-quality report to find.
HEART_RATE_ERRORS = 2
HEART_RATE_ERROR_VALUE = 1111
SWAPPED_PRESSURES = 6

DECIMALS = {"Blood sugar": 0, "CK-MB": 2, "Troponin": 3}
MINIMUM = {"CK-MB": 0.01, "Troponin": 0.001}


def make_demo_cohort(
    seed: int = DEMO_SEED, n_patients: int = DEMO_SIZE
) -> pd.DataFrame:
    """Generate the synthetic demo cohort.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed and size give
        the same table.
    n_patients : int
        Number of rows, at least 10 so that every deliberate quirk fits.

    Returns
    -------
    pandas.DataFrame
        Shape ``(n_patients, 9)`` with the columns of ``COLUMNS``: age in
        years, gender (1 male, 0 female), heart rate in beats/min, pressures in
        mmHg, blood sugar in mg/dL, CK-MB and troponin in ng/mL, and the result
        as ``"positive"`` or ``"negative"``.
    """
    if n_patients < 10:
        raise ValueError(f"n_patients must be at least 10, got {n_patients}.")

    rng = np.random.default_rng(seed)
    scores = _draw_scores(rng, n_patients)

    frame = pd.DataFrame(index=pd.RangeIndex(n_patients))
    for position, column in enumerate(COLUMNS[:-1]):
        frame[column] = _column_values(column, scores[:, position])

    _inject_quirks(frame, rng)
    frame["Result"] = _draw_outcome(frame, rng)
    logger.info("Generated demo cohort: %d rows, seed %d", n_patients, seed)
    return frame


def demo_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a demo cohort as UTF-8 CSV with Unix line endings."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def latent_correlation() -> np.ndarray:
    """Return the 8 x 8 correlation matrix of the normal scores.

    Spearman's rank correlation ``r`` of two variables joined by a Gaussian
    copula equals ``6 / pi * arcsin(rho / 2)``, so ``rho = 2 sin(pi r / 6)``.
    The order of rows and columns is ``COLUMNS[:-1]``.
    """
    names = list(COLUMNS[:-1])
    matrix = np.eye(len(names))
    for (first, second), rank_correlation in SPEARMAN.items():
        i, j = names.index(first), names.index(second)
        matrix[i, j] = matrix[j, i] = 2 * np.sin(np.pi * rank_correlation / 6)
    return matrix


def _draw_scores(rng: np.random.Generator, n_patients: int) -> np.ndarray:
    cholesky = np.linalg.cholesky(latent_correlation())
    return rng.standard_normal((n_patients, len(COLUMNS) - 1)) @ cholesky.T


def _column_values(column: str, scores: np.ndarray) -> np.ndarray:
    if column == "Gender":
        return (scores > ndtri(1 - MALE_SHARE)).astype(np.int64)

    points = np.array(PERCENTILES[column], dtype=float)
    percent, values = points[:, 0], points[:, 1]
    ranks = ndtr(scores) * 100
    if column in LOG_SCALE:
        drawn = np.exp(np.interp(ranks, percent, np.log(values)))
    else:
        drawn = np.interp(ranks, percent, values)

    decimals = DECIMALS.get(column, 0)
    rounded = np.maximum(np.round(drawn, decimals), MINIMUM.get(column, 0))
    return rounded.astype(np.int64) if decimals == 0 else rounded


def _inject_quirks(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    rows = rng.choice(len(frame), HEART_RATE_ERRORS + SWAPPED_PRESSURES, replace=False)
    error_rows, swap_rows = rows[:HEART_RATE_ERRORS], rows[HEART_RATE_ERRORS:]
    frame.loc[error_rows, "Heart rate"] = HEART_RATE_ERROR_VALUE

    # Swapping puts systolic at or below diastolic, as a transposed entry would.
    systolic = frame.loc[swap_rows, "Systolic blood pressure"].to_numpy()
    diastolic = frame.loc[swap_rows, "Diastolic blood pressure"].to_numpy()
    frame.loc[swap_rows, "Systolic blood pressure"] = np.minimum(systolic, diastolic)
    frame.loc[swap_rows, "Diastolic blood pressure"] = np.maximum(systolic, diastolic)


def _draw_outcome(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    above = (frame["Troponin"] > TROPONIN_LIMIT) | (frame["CK-MB"] > CK_MB_LIMIT)
    draws = rng.random(len(frame))
    positive = np.where(
        above, draws >= NEGATIVE_ABOVE_LIMIT, draws < POSITIVE_BELOW_LIMITS
    )
    return np.where(positive, "positive", "negative")
