"""Tests for core.reference: the default table, overrides and flag evaluation."""

import pytest

from core.reference import (
    REFERENCE_VALUES,
    evaluate_flags,
    reference_table,
    reference_values,
)

NORMAL = {
    "age": 50,
    "gender": 1,
    "heart_rate": 75,
    "systolic_bp": 118,
    "diastolic_bp": 76,
    "blood_sugar": 100,
    "ck_mb": 2.0,
    "troponin": 0.005,
}


@pytest.mark.parametrize(
    ("ref_id", "feature", "comparison", "threshold", "unit"),
    [
        ("troponin_high", "troponin", ">", 0.014, "ng/mL"),
        ("ck_mb_high", "ck_mb", ">", 5.0, "ng/mL"),
        ("glucose_high", "blood_sugar", ">=", 200.0, "mg/dL"),
        ("glucose_low", "blood_sugar", "<", 70.0, "mg/dL"),
        ("bp_stage1_systolic", "systolic_bp", ">=", 130.0, "mmHg"),
        ("bp_stage2_systolic", "systolic_bp", ">=", 140.0, "mmHg"),
        ("bp_severe_systolic", "systolic_bp", ">", 180.0, "mmHg"),
        ("bp_stage1_diastolic", "diastolic_bp", ">=", 80.0, "mmHg"),
        ("bp_stage2_diastolic", "diastolic_bp", ">=", 90.0, "mmHg"),
        ("bp_severe_diastolic", "diastolic_bp", ">", 120.0, "mmHg"),
        ("hypotension", "systolic_bp", "<", 90.0, "mmHg"),
        ("tachycardia", "heart_rate", ">", 100.0, "beats/min"),
        ("bradycardia", "heart_rate", "<", 60.0, "beats/min"),
    ],
)
def test_default_thresholds(ref_id, feature, comparison, threshold, unit):
    """Each default flag has the documented feature, comparison, limit and unit."""
    ref = {r.id: r for r in REFERENCE_VALUES}[ref_id]
    assert (ref.feature, ref.comparison, ref.threshold, ref.unit) == (
        feature,
        comparison,
        threshold,
        unit,
    )


@pytest.mark.parametrize(
    ("ref_id", "citation"),
    [
        ("troponin_high", "Circulation 138:e618-e651"),
        ("bp_stage2_systolic", "Hypertension 2018;71:e13-e115"),
        ("glucose_high", "American Diabetes Association"),
        ("bradycardia", "below 50/min"),
    ],
)
def test_sources_cite(ref_id, citation):
    """Sources name the guideline each default comes from."""
    ref = {r.id: r for r in REFERENCE_VALUES}[ref_id]
    assert citation in ref.source


def test_normal_patient_raises_nothing():
    """Values inside every limit raise no flag."""
    assert evaluate_flags(NORMAL) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"troponin": 0.015}, ["troponin_high"]),
        ({"troponin": 0.014}, []),
        ({"ck_mb": 5.1}, ["ck_mb_high"]),
        ({"blood_sugar": 200}, ["glucose_high"]),
        ({"blood_sugar": 69}, ["glucose_low"]),
        ({"systolic_bp": 135}, ["bp_stage1_systolic"]),
        ({"systolic_bp": 140}, ["bp_stage2_systolic"]),
        ({"systolic_bp": 181}, ["bp_severe_systolic"]),
        ({"diastolic_bp": 121}, ["bp_severe_diastolic"]),
        ({"systolic_bp": 85, "diastolic_bp": 50}, ["hypotension"]),
        ({"heart_rate": 101}, ["tachycardia"]),
        ({"heart_rate": 55}, ["bradycardia"]),
    ],
)
def test_flags_raised(changes, expected):
    """Each limit fires on the right side only; BP shows only its top stage."""
    flags = evaluate_flags(NORMAL | changes)
    assert [f.id for f in flags] == expected


def test_override_changes_threshold():
    """An override moves the bradycardia limit to the 50/min alternative."""
    flags = evaluate_flags(NORMAL | {"heart_rate": 55}, {"bradycardia": 50})
    assert flags == []


def test_override_shown_in_table():
    """The table reports the overridden threshold."""
    table = reference_table({"ck_mb_high": 4.9}).set_index("id")
    assert table.loc["ck_mb_high", "threshold"] == 4.9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nope": 1.0}, "Unknown reference id"),
        ({"tachycardia": float("nan")}, "finite"),
    ],
)
def test_invalid_override_rejected(overrides, message):
    """Unknown ids and non-finite thresholds raise ValueError."""
    with pytest.raises(ValueError, match=message):
        reference_values(overrides)


def test_missing_value_raises_no_flag():
    """A NaN value is skipped rather than compared."""
    assert evaluate_flags(NORMAL | {"troponin": float("nan")}) == []
