"""Tests for core.parsing: numbers, missing tokens, bounds and codes."""

import numpy as np
import pandas as pd
import pytest

from core.parsing import map_gender, map_outcome, parse_numbers


@pytest.mark.parametrize(
    ("text", "decimal", "value", "censored", "not_a_number"),
    [
        ("2.05", ".", 2.05, False, False),
        ("2,05", ",", 2.05, False, False),
        (" 3.5 ", ".", 3.5, False, False),
        ("-0.5", ".", -0.5, False, False),
        ("\u22120.5", ".", -0.5, False, False),
        ("1e3", ".", 1000.0, False, False),
        (">300", ".", 300.0, True, False),
        ("< 0,01", ",", 0.01, True, False),
        ("", ".", np.nan, False, False),
        ("NA", ".", np.nan, False, False),
        ("n/a", ".", np.nan, False, False),
        ("?", ".", np.nan, False, False),
        ("-", ".", np.nan, False, False),
        ("null", ".", np.nan, False, False),
        ("None", ".", np.nan, False, False),
        (".", ".", np.nan, False, False),
        ("nan", ".", np.nan, False, False),
        ("abc", ".", np.nan, False, True),
        ("inf", ".", np.nan, False, True),
        ("1_000", ".", np.nan, False, True),
        ("1e999", ".", np.nan, False, True),
        (">1e999", ".", np.nan, False, True),
        ("2,05", ".", np.nan, False, True),
    ],
)
def test_parse_numbers(text, decimal, value, censored, not_a_number):
    """One cell parses to its number, censored flag and not-a-number flag."""
    parsed = parse_numbers(pd.Series([text], index=[1]), decimal)
    assert np.isclose(parsed.values[1], value, equal_nan=True)
    assert bool(parsed.censored[1]) is censored
    assert bool(parsed.not_a_number[1]) is not_a_number


def test_parse_numbers_dtype_and_index():
    """Parsed values are float64 and keep the index of the text."""
    parsed = parse_numbers(pd.Series(["1", "x"], index=[5, 9]))
    assert parsed.values.dtype == np.float64
    assert list(parsed.values.index) == [5, 9]


@pytest.mark.parametrize(
    ("text", "value", "unrecognised"),
    [
        ("M", 1.0, False),
        ("f", 0.0, False),
        ("Male", 1.0, False),
        (" female ", 0.0, False),
        ("1", 1.0, False),
        ("0", 0.0, False),
        ("1.0", 1.0, False),
        ("", np.nan, False),
        ("NA", np.nan, False),
        ("2", np.nan, True),
        ("unknown", np.nan, True),
    ],
)
def test_map_gender(text, value, unrecognised):
    """Gender codes map to 1 male, 0 female, NaN otherwise."""
    values, flags = map_gender(pd.Series([text]))
    assert np.isclose(values[0], value, equal_nan=True)
    assert bool(flags[0]) is unrecognised


@pytest.mark.parametrize(
    ("text", "value", "unrecognised"),
    [
        ("positive", 1.0, False),
        ("Negative", 0.0, False),
        ("yes", 1.0, False),
        ("NO", 0.0, False),
        ("1", 1.0, False),
        ("0", 0.0, False),
        ("true", 1.0, False),
        ("False", 0.0, False),
        ("?", np.nan, False),
        ("maybe", np.nan, True),
    ],
)
def test_map_outcome(text, value, unrecognised):
    """Outcome labels map to 1.0, 0.0 or NaN with unrecognised text flagged."""
    values, flags = map_outcome(pd.Series([text]))
    assert np.isclose(values[0], value, equal_nan=True)
    assert bool(flags[0]) is unrecognised
