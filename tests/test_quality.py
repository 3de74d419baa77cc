"""Tests for core.quality: exclusions, missing values, censoring, the report."""

import numpy as np
import pandas as pd
import pytest

from core.quality import (
    IMPUTE_ACTION,
    OUTCOME_ACTION,
    QualityReport,
    blank_implausible,
    check_quality,
    implausible_values,
)
from core.schema import FEATURE_NAMES


def make_values(n: int = 40, seed: int = 5) -> pd.DataFrame:
    """Return a seeded, plausible canonical table indexed from 1."""
    rng = np.random.default_rng(seed)
    systolic = rng.integers(100, 180, n).astype(float)
    frame = pd.DataFrame(
        {
            "age": rng.integers(25, 90, n),
            "gender": rng.integers(0, 2, n),
            "heart_rate": rng.integers(50, 120, n),
            "systolic_bp": systolic,
            "diastolic_bp": systolic - rng.integers(20, 50, n),
            "blood_sugar": rng.uniform(80, 300, n),
            "ck_mb": rng.lognormal(1.2, 1.0, n),
            "troponin": rng.lognormal(-3.5, 1.0, n).clip(max=5),
            "outcome": rng.integers(0, 2, n),
        },
        index=pd.RangeIndex(1, n + 1, name="row"),
    )
    return frame.astype(np.float64)


def test_plausible_table_all_kept():
    """A plausible table keeps every row and reports nothing."""
    report = check_quality(make_values())
    assert report.rows_kept == 40
    assert report.exclusions.empty
    assert report.missing.empty
    assert report.censored.empty


@pytest.mark.parametrize(
    ("feature", "value", "reason"),
    [
        (
            "heart_rate",
            1111,
            "heart rate 1111 beats/min is outside the plausible range 20-300",
        ),
        ("heart_rate", 19, "outside the plausible range 20-300"),
        ("age", 250, "age 250 years is outside the plausible range 0-120"),
        ("age", -1, "outside the plausible range 0-120"),
        ("systolic_bp", 301, "systolic blood pressure 301 mmHg is outside"),
        ("diastolic_bp", 10, "diastolic blood pressure 10 mmHg is outside"),
        (
            "blood_sugar",
            5,
            "blood sugar 5 mg/dL is outside the plausible range 10-2000",
        ),
        ("ck_mb", -1, "CK-MB -1 ng/mL is outside the plausible range 0-100000"),
        ("ck_mb", 1e308, "CK-MB 1e+308 ng/mL is outside the plausible range 0-100000"),
        (
            "troponin",
            -0.5,
            "troponin -0.5 ng/mL is outside the plausible range 0-100000",
        ),
    ],
)
def test_implausible_value_excluded(feature, value, reason):
    """An implausible value excludes its row with a reason quoting it."""
    values = make_values()
    values.loc[3, feature] = value
    report = check_quality(values)
    assert report.rows_excluded == 1
    assert not report.included[3]
    assert reason in report.exclusions.loc[0, "reason"]


@pytest.mark.parametrize("feature", ["heart_rate", "age", "blood_sugar"])
def test_plausibility_limits_inclusive(feature):
    """Values exactly at a plausibility limit are kept."""
    values = make_values()
    values.loc[2, feature] = {"heart_rate": 20, "age": 120, "blood_sugar": 10}[feature]
    assert check_quality(values).rows_excluded == 0


@pytest.mark.parametrize(("systolic", "diastolic"), [(70, 150), (90, 90)])
def test_diastolic_not_below_systolic_excluded(systolic, diastolic):
    """Diastolic at or above systolic excludes the row and names both values."""
    values = make_values()
    values.loc[5, ["systolic_bp", "diastolic_bp"]] = [systolic, diastolic]
    report = check_quality(values)
    assert report.exclusions["row"].tolist() == [5]
    assert (
        f"{diastolic} mmHg is not below systolic" in report.exclusions.loc[0, "reason"]
    )


def test_several_problems_give_several_lines():
    """A row with two problems gets two reason lines but counts once."""
    values = make_values()
    values.loc[7, ["heart_rate", "age"]] = [1111, 250]
    report = check_quality(values)
    assert len(report.exclusions) == 2
    assert report.rows_excluded == 1


def test_keep_implausible_sets_missing():
    """With exclude_implausible=False the row stays and the value is imputed."""
    values = make_values()
    values.loc[3, "heart_rate"] = 1111
    report = check_quality(values, exclude_implausible=False)
    missing = report.missing.set_index("column")
    assert report.rows_excluded == 0
    assert missing.loc["heart_rate", "kind"] == "implausible, set to missing"
    assert missing.loc["heart_rate", "action"] == IMPUTE_ACTION
    assert "Row 3: heart rate 1111 beats/min" in report.notes[0]


def test_blank_implausible_blanks_both_pressures():
    """Both pressures become NaN when diastolic is not below systolic."""
    values = make_values()
    values.loc[4, ["systolic_bp", "diastolic_bp"]] = [80, 95]
    blanked = blank_implausible(values)
    assert blanked.loc[4, ["systolic_bp", "diastolic_bp"]].isna().all()
    assert blanked.drop(index=4).notna().all().all()


@pytest.mark.parametrize(
    ("feature", "value", "censored"),
    [
        ("ck_mb", 300.0, True),
        ("ck_mb", 299.9, False),
        ("troponin", 10.0, True),
        ("troponin", 9.99, False),
    ],
)
def test_assay_ceiling_censored_not_excluded(feature, value, censored):
    """Values at or above an assay ceiling are flagged as censored and kept."""
    values = make_values()
    values.loc[6, feature] = value
    report = check_quality(values)
    assert report.rows_excluded == 0
    assert (6 in report.censored["row"].tolist()) is censored


def test_ceilings_are_parameters():
    """A lower CK-MB ceiling flags more values."""
    values = make_values()
    default = len(check_quality(values).censored)
    lowered = len(check_quality(values, ck_mb_ceiling=5.0).censored)
    assert lowered > default


def test_bound_cells_censored():
    """Cells parsed from a bound such as >300 are listed as censored."""
    values = make_values()
    bounds = pd.DataFrame(False, index=values.index, columns=list(FEATURE_NAMES))
    bounds.loc[8, "troponin"] = True
    report = check_quality(values, censored=bounds)
    assert report.censored["row"].tolist() == [8]
    assert "'<' or '>'" in report.censored.loc[0, "reason"]


@pytest.mark.parametrize(("n_missing", "excluded"), [(4, False), (5, True)])
def test_sparse_rows(n_missing, excluded):
    """A row is excluded only when more than half its features are missing."""
    values = make_values()
    values.loc[9, list(FEATURE_NAMES[:n_missing])] = np.nan
    report = check_quality(values)
    assert (not report.included[9]) is excluded


def test_missing_counted_by_column():
    """Missing cells are counted per column with the imputation action."""
    values = make_values()
    values.loc[[1, 2], "age"] = np.nan
    values.loc[3, "troponin"] = np.nan
    missing = check_quality(values).missing.set_index("column")
    assert missing.loc["age", "count"] == 2
    assert missing.loc["troponin", "count"] == 1
    assert (missing["action"] == IMPUTE_ACTION).all()


def test_unparsed_cells_reported_as_not_a_number():
    """Cells flagged as unparsed are counted as not a number, not as missing."""
    values = make_values()
    values.loc[2, "heart_rate"] = np.nan
    flags = pd.DataFrame(False, index=values.index, columns=["heart_rate"])
    flags.loc[2, "heart_rate"] = True
    missing = check_quality(values, unparsed=flags).missing
    assert missing["kind"].tolist() == ["not a number"]


def test_missing_outcome_kept():
    """A missing outcome keeps the row with the outcome unknown."""
    values = make_values()
    values.loc[4, "outcome"] = np.nan
    report = check_quality(values)
    assert report.included[4]
    assert report.missing.set_index("column").loc["outcome", "action"] == OUTCOME_ACTION


def test_duplicates_counted_and_kept():
    """Exact duplicate rows are counted and kept."""
    values = make_values()
    values = pd.concat([values, values.iloc[:3]], ignore_index=True)
    values.index = pd.RangeIndex(1, len(values) + 1)
    report = check_quality(values)
    assert report.duplicate_rows == 3
    assert report.rows_kept == len(values)


def test_constant_column_named():
    """A feature with one value among kept rows is named as constant."""
    values = make_values()
    values["gender"] = 1.0
    report = check_quality(values)
    assert report.constant_columns == ["gender"]
    assert "Gender has the same value" in report.notes[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_add_up(seed):
    """rows_kept + rows_excluded == rows_read with random problems."""
    rng = np.random.default_rng(seed)
    values = make_values(seed=seed)
    rows = rng.choice(values.index, 10, replace=False)
    values.loc[rows[:5], "heart_rate"] = 1111
    values.loc[rows[5:], list(FEATURE_NAMES[:6])] = np.nan
    report = check_quality(values)
    assert report.rows_kept + report.rows_excluded == report.rows_read
    assert report.rows_excluded == 10


def test_report_rejects_inconsistent_counts():
    """The report refuses counts that do not add up."""
    report = check_quality(make_values())
    with pytest.raises(AssertionError, match="rows read"):
        QualityReport(
            rows_read=10,
            rows_kept=5,
            rows_excluded=4,
            exclusions=report.exclusions,
            missing=report.missing,
            duplicate_rows=0,
            constant_columns=[],
            censored=report.censored,
            included=report.included,
        )


def test_to_frame_lists_every_finding():
    """The flat table has one line per exclusion, missing count and censored value."""
    values = make_values()
    values.loc[1, "heart_rate"] = 1111
    values.loc[2, "age"] = np.nan
    values.loc[3, "ck_mb"] = 300.0
    flat = check_quality(values).to_frame()
    sections = flat["section"].value_counts()
    assert list(flat.columns) == ["section", "row", "column", "count", "detail"]
    assert sections["excluded"] == 1
    assert sections["missing"] == 1
    assert sections["censored"] == 1
    assert flat.loc[flat["detail"] == "rows read", "count"].item() == 40


def test_implausible_values_ignores_missing():
    """NaN is missing, not implausible."""
    values = make_values()
    values.loc[1, "heart_rate"] = np.nan
    assert implausible_values(values).empty


def test_exclusion_counts_per_rule():
    """Excluded rows are counted once per rule, with their row numbers."""
    values = pd.DataFrame(
        {name: [50.0, 60.0, 70.0, 80.0] for name in FEATURE_NAMES}
        | {
            "gender": [1.0, 0.0, 1.0, 0.0],
            "heart_rate": [1111.0, 70.0, 1111.0, 70.0],
            "systolic_bp": [120.0, 120.0, 120.0, 70.0],
            "diastolic_bp": [80.0, 80.0, 80.0, 90.0],
        },
        index=pd.RangeIndex(1, 5),
    )
    counts = check_quality(values).exclusion_counts().set_index("rule")

    heart_rule = "heart rate outside the plausible range 20-300 beats/min"
    pressure_rule = "diastolic blood pressure not below systolic"
    assert counts.loc[heart_rule, "rows"] == 2
    assert counts.loc[heart_rule, "row_numbers"] == "1, 3"
    assert counts.loc[pressure_rule, "rows"] == 1
    assert counts.loc[pressure_rule, "row_numbers"] == "4"
