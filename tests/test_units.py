"""Tests for core.units: unit detection rules and conversions."""

import numpy as np
import pandas as pd
import pytest

from core.mapping import suggest_mapping
from core.units import (
    MMOL_TO_MG_DL,
    NG_L_TO_NG_ML,
    apply_conversions,
    detect_units,
    suggest_conversions,
)

RNG = np.random.default_rng(3)
SUGAR_MG_DL = RNG.uniform(80, 300, 60)
TROPONIN_NG_ML = RNG.lognormal(-3.5, 1.5, 60)


def _features(sugar, troponin) -> pd.DataFrame:
    return pd.DataFrame({"blood_sugar": sugar, "troponin": troponin})


@pytest.mark.parametrize(
    ("sugar", "troponin", "expected"),
    [
        (SUGAR_MG_DL, TROPONIN_NG_ML, []),
        (SUGAR_MG_DL / MMOL_TO_MG_DL, TROPONIN_NG_ML, ["blood_sugar"]),
        (SUGAR_MG_DL, TROPONIN_NG_ML * 1000 + 2, ["troponin"]),
        (
            SUGAR_MG_DL / MMOL_TO_MG_DL,
            TROPONIN_NG_ML * 1000 + 2,
            ["blood_sugar", "troponin"],
        ),
    ],
)
def test_suggestions_by_units(sugar, troponin, expected):
    """mmol/L sugar and ng/L troponin are suggested, canonical units are not."""
    found = [s.feature for s in suggest_conversions(_features(sugar, troponin))]
    assert found == expected


@pytest.mark.parametrize(
    ("median", "suggested"), [(34.9, True), (35.0, False), (5.5, True), (100.0, False)]
)
def test_sugar_threshold(median, suggested):
    """Blood sugar is suggested as mmol/L only when its median is below 35."""
    sugar = np.full(11, median)
    found = suggest_conversions(pd.DataFrame({"blood_sugar": sugar}))
    assert bool(found) is suggested


@pytest.mark.parametrize(
    ("values", "suggested"),
    [
        ([6, 7, 8, 9, 10], True),
        ([5, 5, 5, 9, 10], False),
        ([0.5, 0.5, 0.5, 50, 80], False),
        ([0.01, 0.02, 0.5, 12, 20], False),
    ],
)
def test_troponin_rule(values, suggested):
    """Troponin needs most values above 1 and a median above 5 to look like ng/L."""
    found = suggest_conversions(pd.DataFrame({"troponin": values}))
    assert bool(found) is suggested


def test_reason_quotes_median():
    """The reason quotes the median that triggered the suggestion."""
    sugar = pd.DataFrame({"blood_sugar": [5.0, 6.0, 7.0]})
    (suggestion,) = suggest_conversions(sugar)
    assert "6" in suggestion.reason
    assert suggestion.factor == MMOL_TO_MG_DL


def test_all_missing_column_gives_no_suggestion():
    """A column with no numbers suggests nothing."""
    empty = pd.DataFrame({"blood_sugar": [np.nan] * 3, "troponin": [np.nan] * 3})
    assert suggest_conversions(empty) == []


def test_apply_conversions_multiplies_without_mutating():
    """Conversions multiply the column and leave the input unchanged."""
    values = _features(SUGAR_MG_DL / MMOL_TO_MG_DL, TROPONIN_NG_ML * 1000)
    before = values.copy()
    converted = apply_conversions(values, suggest_conversions(values))
    assert np.allclose(converted["blood_sugar"], SUGAR_MG_DL)
    assert np.allclose(converted["troponin"], TROPONIN_NG_ML)
    pd.testing.assert_frame_equal(values, before)


def test_ng_l_factor():
    """The troponin factor turns ng/L into ng/mL."""
    assert np.isclose(14 * NG_L_TO_NG_ML, 0.014)


def test_detect_units_on_raw_text_with_decimal_comma():
    """detect_units parses the mapped text columns with the given decimal mark."""
    frame = pd.DataFrame(
        {"Glucose": ["5,5", "6,1", "7,2"], "Troponin": ["0,01", "0,02", "0,5"]}
    )
    mapping = suggest_mapping(list(frame.columns))
    found = detect_units(frame, mapping, decimal=",")
    assert [s.feature for s in found] == ["blood_sugar"]


def test_describe_names_units():
    """The description names the source and target units."""
    (suggestion,) = suggest_conversions(pd.DataFrame({"troponin": [8.0, 9.0, 30.0]}))
    assert "from ng/L to ng/mL" in suggestion.describe()
