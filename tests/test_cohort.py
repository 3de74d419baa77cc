"""Tests for core.cohort: the canonical table, options and the real cohort."""

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cases.make_cases import HEADER, join, make_rows
from openpyxl import Workbook

from core.cohort import build_cohort, load_cohort
from core.errors import ColumnMappingError
from core.mapping import suggest_mapping
from core.reading import read_table
from core.schema import FEATURE_NAMES, OUTCOME, PATIENT_ID

ROWS = make_rows(seed=21)
CSV = join(ROWS).encode()
REAL = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "datasets"
    / "heart_attack_zheen.csv"
)


def test_table_columns_in_contract_order():
    """The table has features, outcome, patient id, then unused columns."""
    rows = [["P1"] + r + ["note"] for r in ROWS]
    data = join(rows).replace(",".join(HEADER), "id," + ",".join(HEADER) + ",Notes")
    cohort = load_cohort(data.encode(), "a.csv")
    assert list(cohort.table.columns) == [*FEATURE_NAMES, OUTCOME, PATIENT_ID, "Notes"]
    assert (cohort.table[list(FEATURE_NAMES)].dtypes == np.float64).all()
    assert cohort.table.index[0] == 1


def test_features_and_outcome_properties():
    """features contains kept rows and feature columns only, without outcome."""
    cohort = load_cohort(CSV, "a.csv")
    assert list(cohort.features.columns) == list(FEATURE_NAMES)
    assert OUTCOME not in cohort.features
    assert cohort.outcome.index.equals(cohort.features.index)
    assert set(cohort.outcome.unique()) <= {0.0, 1.0}


def test_no_outcome_column():
    """Without an outcome column has_outcome is False and outcome is None."""
    data = "\n".join(",".join(r[:8]) for r in [HEADER, *ROWS]).encode()
    cohort = load_cohort(data, "a.csv")
    assert cohort.has_outcome is False
    assert cohort.outcome is None


def test_content_hash_and_fingerprint():
    """content_hash is the bytes' SHA-256; fingerprint changes with options."""
    raw = read_table(CSV, "a.csv")
    mapping = suggest_mapping(list(raw.frame.columns))
    first = build_cohort(raw, mapping)
    second = build_cohort(raw, mapping, exclude_implausible=False)
    assert first.content_hash == hashlib.sha256(CSV).hexdigest()
    assert first.fingerprint != second.fingerprint


def test_keep_implausible_blanks_table_values():
    """With exclude_implausible=False implausible values reach no feature."""
    rows = [r.copy() for r in ROWS]
    rows[0][2] = "1111"
    rows[1][3], rows[1][4] = "70", "150"
    cohort = load_cohort(join(rows).encode(), "a.csv", exclude_implausible=False)
    assert cohort.included.all()
    assert np.isnan(cohort.features.loc[1, "heart_rate"])
    assert cohort.features.loc[2, ["systolic_bp", "diastolic_bp"]].isna().all()
    assert cohort.features["heart_rate"].max() <= 300


def test_load_cohort_passes_ceiling():
    """load_cohort passes the CK-MB ceiling on to the quality check."""
    default = load_cohort(CSV, "a.csv")
    lowered = load_cohort(CSV, "a.csv", ck_mb_ceiling=1.0)
    at_ceiling = int((lowered.table["ck_mb"] >= 1.0).sum())
    assert len(lowered.report.censored) == at_ceiling
    assert len(lowered.report.censored) > len(default.report.censored)


def test_cohort_pickles():
    """A cohort survives pickling, as st.cache_data needs."""
    cohort = load_cohort(CSV, "a.csv")
    copy = pickle.loads(pickle.dumps(cohort))
    pd.testing.assert_frame_equal(copy.features, cohort.features)


def test_build_with_edited_mapping():
    """A mapping edited in the form is applied: swapped columns swap values."""
    raw = read_table(CSV, "a.csv")
    mapping = suggest_mapping(list(raw.frame.columns))
    swapped = mapping.with_column("ck_mb", "Troponin").with_column("troponin", "CK-MB")
    cohort = build_cohort(raw, swapped)
    original = build_cohort(raw, mapping)
    assert np.allclose(cohort.table["ck_mb"], original.table["troponin"])


def test_build_rejects_incomplete_mapping():
    """An incomplete mapping raises ColumnMappingError."""
    raw = read_table(CSV, "a.csv")
    mapping = suggest_mapping(list(raw.frame.columns)).with_column("age", None)
    with pytest.raises(ColumnMappingError, match="Age"):
        build_cohort(raw, mapping)


def test_convert_unknown_feature_is_error():
    """convert naming a non-feature is a programming error."""
    raw = read_table(CSV, "a.csv")
    with pytest.raises(ValueError, match="unknown features"):
        build_cohort(raw, suggest_mapping(list(raw.frame.columns)), ["weight"])


def test_convert_without_suggestion_noted():
    """Requesting a conversion that is not suggested leaves values and notes it."""
    raw = read_table(CSV, "a.csv")
    cohort = build_cohort(raw, suggest_mapping(list(raw.frame.columns)), ["troponin"])
    assert cohort.report.conversions == []
    assert any("No unit conversion" in note for note in cohort.report.notes)


@pytest.mark.parametrize("convert", [True, False])
def test_units_converted_only_on_request(convert):
    """mmol/L sugar is converted only when asked; both runs list the suggestion."""
    rows = [r[:5] + [f"{float(r[5]) / 18.016:.3f}"] + r[6:] for r in ROWS]
    cohort = load_cohort(join(rows).encode(), "a.csv", convert_units=convert)
    expected = np.array([float(r[5]) for r in ROWS])
    close = np.allclose(cohort.table["blood_sugar"], expected, atol=0.05)
    assert close is convert
    assert [s.feature for s in cohort.unit_suggestions] == ["blood_sugar"]
    assert len(cohort.report.conversions) == int(convert)


def test_unused_column_named_like_feature_kept():
    """An unused column that repeats a canonical name is kept under a prefix."""
    data = join([r + [r[0]] for r in ROWS]).replace("Result\n", "Result,age\n", 1)
    cohort = load_cohort(data.encode(), "a.csv")
    assert "source: age" in cohort.table
    assert cohort.report.unused_columns == ["age"]


def test_patient_id_kept_as_text():
    """Identifiers keep their text and never become features."""
    rows = [[f"00{i}"] + r for i, r in enumerate(ROWS)]
    data = join(rows).replace(",".join(HEADER), "patient_id," + ",".join(HEADER))
    cohort = load_cohort(data.encode(), "a.csv")
    assert cohort.table[PATIENT_ID].iloc[0] == "000"
    assert PATIENT_ID not in cohort.features


# Real cohort: 1,318 patients from Zheen Hospital, Erbil (Rashid and Hassan,
# "Heart Attack Dataset", Mendeley Data V1, 2022, doi:10.17632/wmhctcrt5v.1).
real_cohort = pytest.mark.skipif(
    not REAL.exists(), reason="real cohort CSV not found next to the repository"
)


@pytest.fixture(scope="module")
def real_bytes() -> bytes:
    return REAL.read_bytes()


@pytest.fixture(scope="module")
def real(real_bytes):
    return load_cohort(real_bytes, REAL.name)


@real_cohort
@pytest.mark.real_cohort
def test_real_cohort_counts(real):
    """All 1,318 rows are read and every one is kept or excluded."""
    report = real.report
    assert report.rows_read == 1318
    assert report.rows_kept + report.rows_excluded == 1318


@real_cohort
@pytest.mark.real_cohort
def test_real_heart_rate_errors_excluded(real):
    """Both heart-rate 1111 rows are excluded with the heart-rate reason."""
    rows = real.table.index[real.table["heart_rate"] == 1111]
    reasons = real.report.exclusions.set_index("row").loc[rows, "reason"]
    assert len(rows) == 2
    assert not real.included[rows].any()
    assert reasons.str.contains("heart rate 1111").all()


@real_cohort
@pytest.mark.real_cohort
def test_real_inverted_pressures_excluded(real):
    """Rows with systolic at or below diastolic are excluded."""
    table = real.table
    inverted = table.index[table["systolic_bp"] <= table["diastolic_bp"]]
    assert len(inverted) > 0
    assert not real.included[inverted].any()


@real_cohort
@pytest.mark.real_cohort
def test_real_ck_mb_ceiling_censored(real):
    """The 19 CK-MB values of 300 are censored, not excluded for that reason."""
    censored = real.report.censored
    ck_mb = censored[censored["feature"] == "ck_mb"]
    assert len(ck_mb) == 19
    assert not real.report.exclusions["reason"].str.contains("CK-MB").any()


def _semicolon_comma(text: str) -> bytes:
    lines = [line.replace(",", ";").replace(".", ",") for line in text.splitlines()]
    return "\r\n".join(lines).encode("cp1252")


def _renamed(text: str) -> bytes:
    header, body = text.split("\n", 1)
    names = "age_years,sex,HR,SBP,DBP,glucose,ckmb,trop,outcome"
    return (names + "\n" + body).encode()


def _xlsx(text: str) -> bytes:
    frame = pd.read_csv(io.StringIO(text))
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@real_cohort
@pytest.mark.real_cohort
@pytest.mark.parametrize("encode", [_semicolon_comma, _renamed, _xlsx])
def test_real_cohort_same_in_every_format(real, real_bytes, encode):
    """Semicolon with decimal comma, renamed columns and xlsx give equal features."""
    text = real_bytes.decode("utf-8").replace("\r\n", "\n")
    other = load_cohort(encode(text), "upload")
    pd.testing.assert_frame_equal(other.features, real.features)
    pd.testing.assert_series_equal(other.outcome, real.outcome)


@pytest.mark.parametrize("emptied", [["Troponin"], ["Age", "CK-MB", "Troponin"]])
def test_empty_feature_column_rejected(emptied):
    """A mapped column with no numeric value rejects the cohort, naming it."""
    lines = [
        "Age,Gender,Heart rate,Systolic blood pressure,Diastolic blood pressure,"
        "Blood sugar,CK-MB,Troponin,Result"
    ]
    lines += ["59,0,85,126,93,218,2.05,0.008,negative"] * 5
    frame = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str)
    frame[emptied] = ""
    data = frame.to_csv(index=False).encode()

    with pytest.raises(ColumnMappingError, match="No row has a numeric value") as info:
        load_cohort(data, "emptied.csv")
    for column in emptied:
        assert f"'{column}'" in str(info.value)
