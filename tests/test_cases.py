"""Every upload case file loads, or fails, as its expectation states.

Cases kept beside the repository are skipped when their folder is absent.
The project's own cases live in ``tests/cases`` and are written by
``tests/cases/make_cases.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cohort import Cohort, load_cohort
from core.errors import FileFormatError
from core.reading import read_table
from core.schema import FEATURE_NAMES, OUTCOME, PATIENT_ID

SHARED = Path(__file__).resolve().parents[2] / "shared" / "cases"
OWN = Path(__file__).resolve().parent / "cases"
SKIP_SHARED = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared case folder not found next to the repository"
)


def load(folder: Path, name: str, **options) -> Cohort:
    return load_cohort((folder / name).read_bytes(), name, **options)


def reference() -> Cohort:
    return load(SHARED, "bom_utf8.csv")


def assert_same_values(cohort: Cohort, expected: Cohort) -> None:
    pd.testing.assert_frame_equal(cohort.features, expected.features)
    pd.testing.assert_series_equal(cohort.outcome, expected.outcome)


# Shared cases -------------------------------------------------------------


def check_bom_utf8(folder):
    cohort = load(folder, "bom_utf8.csv")
    assert cohort.report.rows_read == 40
    assert cohort.mapping.features["age"] == "Age"


def check_semicolon_decimal_comma(folder):
    raw = read_table((folder / "semicolon_decimal_comma.csv").read_bytes(), "x")
    assert raw.separator == ";"
    assert raw.decimal == ","
    assert_same_values(load(folder, "semicolon_decimal_comma.csv"), reference())


def check_cp1252_extra_column(folder):
    cohort = load(folder, "cp1252_extra_column.csv")
    assert cohort.report.rows_read == 40
    assert cohort.report.unused_columns == ["Notes"]
    assert cohort.table["Notes"].str.contains("été").any()


def check_renamed_columns(folder):
    cohort = load(folder, "renamed_columns.csv")
    assert cohort.mapping.missing == []
    assert cohort.mapping.unused == []
    assert_same_values(cohort, reference())


def check_units_mmol_ngL(folder):
    plain = load(folder, "units_mmol_ngL.csv")
    converted = load(folder, "units_mmol_ngL.csv", convert_units=True)
    expected = reference().table
    found = [s.feature for s in plain.unit_suggestions]
    assert found == ["blood_sugar", "troponin"]
    assert len(converted.report.conversions) == 2
    for name in ("blood_sugar", "troponin"):
        close = np.allclose(converted.table[name], expected[name], rtol=0.01)
        assert close, name


def check_missing_values(folder):
    report = load(folder, "missing_values.csv").report
    counts = report.missing.set_index("column")["count"]
    assert counts.sum() == 4
    assert sorted(counts.index) == ["age", "blood_sugar", "heart_rate", "troponin"]
    assert report.rows_kept + report.rows_excluded == 40


def check_implausible_values(folder):
    cohort = load(folder, "implausible_values.csv")
    reasons = cohort.report.exclusions.groupby("row")["reason"].first()
    assert sorted(reasons.index) == [1, 2, 3, 4]
    assert "heart rate 1111" in reasons[1]
    assert "not below systolic" in reasons[2]
    assert "troponin -0.5" in reasons[3]
    assert "age 250" in reasons[4]
    assert cohort.included[5]
    assert cohort.report.censored.set_index("row").loc[5, "feature"] == "ck_mb"


def check_empty(folder):
    with pytest.raises(FileFormatError, match="is empty"):
        load(folder, "empty.csv")


def check_header_only(folder):
    with pytest.raises(FileFormatError, match="no data rows"):
        load(folder, "header_only.csv")


def check_two_rows(folder):
    # Clustering, not loading, reports that two patients are too few.
    assert load(folder, "two_rows.csv").report.rows_kept == 2


def check_not_a_csv(folder):
    with pytest.raises(FileFormatError, match="not readable as a table"):
        load(folder, "not_a_csv.csv")


def check_html_injection(folder):
    cohort = load(folder, "html_injection.csv")
    name = "<img src=x onerror=alert(1)>"
    assert cohort.report.unused_columns == [name]
    assert cohort.table[name].iloc[0] == "<script>alert(2)</script>"


def check_formula_cells(folder):
    cohort = load(folder, "formula_cells.csv")
    assert cohort.mapping.patient_id == "patient_id"
    assert cohort.table[PATIENT_ID].iloc[0].startswith("=HYPERLINK")
    assert PATIENT_ID not in cohort.features


def check_no_outcome(folder):
    cohort = load(folder, "no_outcome.csv")
    assert cohort.has_outcome is False
    assert OUTCOME not in cohort.table


def check_constant_and_duplicates(folder):
    report = load(folder, "constant_and_duplicates.csv").report
    assert report.rows_read == 50
    assert report.duplicate_rows == 10
    assert report.constant_columns == ["gender"]


def check_cohort_xlsx(folder):
    cohort = load(folder, "cohort.xlsx")
    assert cohort.report.rows_read == 40
    assert_same_values(cohort, reference())


def check_two_distinct_profiles(folder):
    cohort = load(folder, "two_distinct_profiles.csv")
    assert cohort.report.rows_kept == 12
    assert len(cohort.features.drop_duplicates()) == 2


SHARED_CHECKS = {
    "bom_utf8.csv": check_bom_utf8,
    "semicolon_decimal_comma.csv": check_semicolon_decimal_comma,
    "cp1252_extra_column.csv": check_cp1252_extra_column,
    "renamed_columns.csv": check_renamed_columns,
    "units_mmol_ngL.csv": check_units_mmol_ngL,
    "missing_values.csv": check_missing_values,
    "implausible_values.csv": check_implausible_values,
    "empty.csv": check_empty,
    "header_only.csv": check_header_only,
    "two_rows.csv": check_two_rows,
    "not_a_csv.csv": check_not_a_csv,
    "html_injection.csv": check_html_injection,
    "formula_cells.csv": check_formula_cells,
    "no_outcome.csv": check_no_outcome,
    "constant_and_duplicates.csv": check_constant_and_duplicates,
    "cohort.xlsx": check_cohort_xlsx,
    "two_distinct_profiles.csv": check_two_distinct_profiles,
}


@SKIP_SHARED
@pytest.mark.parametrize("name", sorted(SHARED_CHECKS))
def test_shared_case(name):
    """A shared case file behaves as its expectation states."""
    SHARED_CHECKS[name](SHARED)


@SKIP_SHARED
def test_every_shared_case_checked():
    """Each file in the shared case folder has a check here."""
    files = {p.name for p in SHARED.iterdir() if p.suffix != ".md"}
    assert files == set(SHARED_CHECKS)


# Own cases: each loads like the seeded reference rows or fails as stated --


OWN_LOADS = {
    # name: (kind, encoding, separator, rows kept)
    "tab_separated.csv": ("csv", "utf-8", "\t", 30),
    "pipe_separated.csv": ("csv", "utf-8", "|", 30),
    "crlf_line_endings.csv": ("csv", "utf-8", ",", 30),
    "latin1_extra_column.csv": ("csv", "latin-1", ",", 30),
    "utf16_tab_text.txt": ("csv", "utf-16", "\t", 30),
    "censored_bounds.csv": ("csv", "utf-8", ",", 30),
    "yes_no_outcome.csv": ("csv", "utf-8", ",", 30),
    "male_female_gender.csv": ("csv", "utf-8", ",", 30),
    "text_in_numbers.csv": ("csv", "utf-8", ",", 30),
    "sparse_row.csv": ("csv", "utf-8", ",", 29),
    "trailing_separators.csv": ("csv", "utf-8", ",", 30),
    "units_in_headers.csv": ("csv", "utf-8", ",", 30),
    "workbook_named_csv.csv": ("xlsx", "xlsx", None, 30),
    "text_named_xlsx.xlsx": ("csv", "utf-8", ",", 30),
}
OWN_FAILS = {
    "ragged_rows.csv": "data row 4 has 11 fields but the header has 9",
    "legacy_xls.xls": "old Excel .xls workbook",
    "zip_not_workbook.xlsx": "not an Excel workbook",
    "whitespace_only.csv": "is empty",
    "too_many_columns.csv": "201 columns, more than the 200 accepted",
}
# Files whose values differ from the reference rows on purpose.
OWN_DIFFERENT = {"censored_bounds.csv", "text_in_numbers.csv", "sparse_row.csv"}


@pytest.mark.parametrize("name", sorted(OWN_LOADS))
def test_own_case_format(name):
    """An own case file is read with the expected format facts."""
    kind, encoding, separator, kept = OWN_LOADS[name]
    raw = read_table((OWN / name).read_bytes(), name)
    cohort = load(OWN, name, convert_units=True)
    assert raw.kind == kind
    assert raw.encoding == encoding
    assert raw.separator == separator
    assert cohort.report.rows_kept == kept


@pytest.mark.parametrize("name", sorted(set(OWN_LOADS) - OWN_DIFFERENT))
def test_own_case_values(name):
    """An own case file gives the reference rows' values within rounding."""
    expected = load(OWN, "crlf_line_endings.csv")
    cohort = load(OWN, name, convert_units=True)
    close = np.allclose(cohort.features, expected.features, rtol=0.01)
    assert close
    pd.testing.assert_series_equal(cohort.outcome, expected.outcome)


@pytest.mark.parametrize("name", sorted(OWN_FAILS))
def test_own_case_rejected(name):
    """An unreadable own case raises FileFormatError with its message."""
    with pytest.raises(FileFormatError, match=OWN_FAILS[name]):
        load(OWN, name)


@pytest.mark.parametrize(
    ("name", "row", "feature"),
    [("censored_bounds.csv", 1, "ck_mb"), ("censored_bounds.csv", 2, "troponin")],
)
def test_own_bounds_censored(name, row, feature):
    """Cells written as >300 or <0.01 are censored and kept."""
    cohort = load(OWN, name)
    censored = cohort.report.censored
    match = censored[(censored["row"] == row) & (censored["feature"] == feature)]
    assert len(match) == 1
    assert cohort.included[row]


def test_own_text_counted_as_not_a_number():
    """Text in a number column is reported as not a number and imputed."""
    missing = load(OWN, "text_in_numbers.csv").report.missing
    assert missing[["column", "kind"]].values.tolist() == [
        ["heart_rate", "not a number"]
    ]


def test_own_sparse_row_excluded():
    """A row with five of eight features missing is excluded with its reason."""
    exclusions = load(OWN, "sparse_row.csv").report.exclusions
    assert exclusions["row"].tolist() == [1]
    assert "too many missing values" in exclusions.loc[0, "reason"]


def test_every_own_case_checked():
    """Each file in tests/cases has an expectation here."""
    files = {p.name for p in OWN.iterdir() if p.suffix != ".py" and p.is_file()}
    assert files == set(OWN_LOADS) | set(OWN_FAILS)


SHARED_REJECTED = {"empty.csv", "header_only.csv", "not_a_csv.csv"}
READABLE = [OWN / name for name in sorted(OWN_LOADS)]
if SHARED.is_dir():
    READABLE += [SHARED / name for name in sorted(set(SHARED_CHECKS) - SHARED_REJECTED)]


@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_rows_add_up(path):
    """Every readable case keeps or excludes each row read, none lost."""
    cohort = load_cohort(path.read_bytes(), path.name)
    report = cohort.report
    assert report.rows_kept + report.rows_excluded == report.rows_read
    assert len(cohort.table) == report.rows_read
    assert cohort.table[list(FEATURE_NAMES)].dtypes.eq(np.float64).all()
