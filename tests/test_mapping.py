"""Tests for core.mapping: name matching, mapping edits, validation, codes."""

from dataclasses import replace

import pytest

from core.errors import ColumnMappingError
from core.mapping import (
    ColumnMapping,
    match_column,
    normalise_name,
    suggest_mapping,
    validate_mapping,
)
from core.schema import FEATURE_NAMES, FEATURES

STANDARD = [
    "Age",
    "Gender",
    "Heart rate",
    "Systolic blood pressure",
    "Diastolic blood pressure",
    "Blood sugar",
    "CK-MB",
    "Troponin",
    "Result",
]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("\ufeffAge", "age"),
        (" Heart rate ", "heartrate"),
        ("CK-MB", "ckmb"),
        ("Blood_Sugar (mg/dL)", "bloodsugarmgdl"),
        ("Température", "température"),
    ],
)
def test_normalise_name(name, expected):
    """Names are lower-cased and keep only letters and digits."""
    assert normalise_name(name) == expected


@pytest.mark.parametrize(
    ("name", "target"),
    [
        ("age_years", "age"),
        ("sex", "gender"),
        ("HR", "heart_rate"),
        ("HR (bpm)", "heart_rate"),
        ("SBP (mmHg)", "systolic_bp"),
        ("DBP", "diastolic_bp"),
        ("Glucose (mmol/L)", "blood_sugar"),
        ("ckmb", "ck_mb"),
        ("hs-TnT (ng/L)", "troponin"),
        ("Troponin (ng/mL)", "troponin"),
        ("outcome", "outcome"),
        ("patient_id", "patient_id"),
        ("MRN", "patient_id"),
        ("Notes", None),
        ("<img src=x onerror=alert(1)>", None),
    ],
)
def test_match_column(name, target):
    """A column name matches its canonical target, or nothing."""
    assert match_column(name) == target


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.name)
def test_every_alias_matches_its_feature(feature):
    """Each alias in the schema maps back to its own feature."""
    for alias in feature.aliases:
        assert match_column(alias) == feature.name, alias


def test_suggest_mapping_standard_header():
    """The standard header maps every feature, the outcome and nothing else."""
    mapping = suggest_mapping(STANDARD)
    assert mapping.missing == []
    assert mapping.outcome == "Result"
    assert mapping.patient_id is None
    assert mapping.unused == []


def test_suggest_mapping_keeps_extra_columns_unused():
    """Unrecognised columns and second matches are listed as unused."""
    mapping = suggest_mapping(["id", *STANDARD, "Notes", "age"])
    assert mapping.patient_id == "id"
    assert mapping.features["age"] == "Age"
    assert mapping.unused == ["Notes", "age"]


def test_with_column_moves_source():
    """Choosing a column already used elsewhere moves it, never duplicates it."""
    mapping = suggest_mapping([*STANDARD, "Pulse2"])
    changed = mapping.with_column("heart_rate", "Pulse2")
    moved = changed.with_column("age", "Pulse2")
    assert changed.features["heart_rate"] == "Pulse2"
    assert "Heart rate" in changed.unused
    assert moved.features["heart_rate"] is None
    assert moved.features["age"] == "Pulse2"
    assert mapping.features["heart_rate"] == "Heart rate"


@pytest.mark.parametrize(
    ("target", "source", "attribute"),
    [("outcome", None, "outcome"), ("patient_id", "Result", "patient_id")],
)
def test_with_column_optional_targets(target, source, attribute):
    """Outcome and patient id can be set or cleared like features."""
    changed = suggest_mapping(STANDARD).with_column(target, source)
    assert getattr(changed, attribute) == source


def test_with_column_unknown_target():
    """An unknown target is a programming error."""
    with pytest.raises(ValueError, match="unknown mapping target"):
        suggest_mapping(STANDARD).with_column("weight", "Age")


def test_mapping_constructible_from_form():
    """A mapping built from form choices validates and lists unused columns."""
    columns = ["a", "b", "c", "d", "e", "f", "g", "h", "y", "z"]
    mapping = ColumnMapping(
        features=dict(zip(FEATURE_NAMES, columns[:8], strict=True)),
        outcome="y",
        columns=tuple(columns),
    )
    validate_mapping(mapping, columns)
    assert mapping.unused == ["z"]


def test_validate_names_missing_features():
    """A missing feature is named by label and the available columns listed."""
    columns = [c for c in STANDARD if c not in ("Troponin", "Heart rate")]
    mapping = suggest_mapping(columns)
    with pytest.raises(ColumnMappingError) as error:
        validate_mapping(mapping, columns)
    assert "Heart rate, Troponin" in str(error.value)
    assert "'CK-MB'" in str(error.value)


@pytest.mark.parametrize(
    ("target", "source"),
    [("age", "Gender"), ("outcome", "Troponin"), ("patient_id", "Age")],
)
def test_validate_rejects_shared_column(target, source):
    """One source column cannot feed two targets, outcome included."""
    base = suggest_mapping(STANDARD)
    if target in ("outcome", "patient_id"):
        mapping = replace(base, **{target: source})
    else:
        mapping = replace(base, features={**base.features, target: source})
    with pytest.raises(ColumnMappingError, match="more than one"):
        validate_mapping(mapping, STANDARD)


def test_validate_rejects_absent_column():
    """A mapping naming a column absent from the table is rejected."""
    mapping = suggest_mapping(STANDARD).with_column("age", "Age in years")
    with pytest.raises(ColumnMappingError, match="not in the file"):
        validate_mapping(mapping, STANDARD)


def test_validate_lists_at_most_twenty_columns():
    """Long column lists are shortened in the message."""
    columns = [f"x{i}" for i in range(30)]
    with pytest.raises(ColumnMappingError, match="and 10 more"):
        validate_mapping(suggest_mapping(columns), columns)
