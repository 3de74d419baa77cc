"""Fuzz the upload path: any input gives a consistent cohort or a CohortError."""

import io

import numpy as np
from cases.make_cases import HEADER, join, make_rows
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from core.cohort import Cohort, build_cohort, load_cohort
from core.errors import CohortError
from core.mapping import suggest_mapping
from core.reading import read_table
from core.schema import FEATURE_NAMES, OUTCOME, PATIENT_ID

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

numbers = st.floats(allow_nan=True, allow_infinity=True, width=32).map(str)
integers = st.integers(min_value=-5000, max_value=5000).map(str)
tokens = st.sampled_from(
    ["", "NA", "?", "-", ".", ">300", "<0.01", "2,05", "M", "F", "positive", "no"]
    + ['"', "1e999", ">1e999", "=1+1", "\r", "\ufeff", "\u22125"]
)
text = st.text(max_size=12)
cells = st.one_of(numbers, integers, tokens, text)
rows = st.lists(st.lists(cells, min_size=0, max_size=11), min_size=0, max_size=25)
headers = st.one_of(
    st.just(HEADER),
    st.lists(st.one_of(st.sampled_from(HEADER), text), min_size=1, max_size=11),
)
separators = st.sampled_from([",", ";", "\t", "|"])
encodings = st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"])


def outcome_of(data: bytes) -> Cohort | None:
    """Load the bytes, returning None for a CohortError; anything else raises."""
    try:
        cohort = load_cohort(data, "fuzz.csv")
    except CohortError as error:
        event(f"rejected: {type(error).__name__}")
        return None
    event("loaded")
    report = cohort.report
    assert report.rows_kept + report.rows_excluded == report.rows_read
    assert len(cohort.table) == report.rows_read
    assert cohort.included.sum() == report.rows_kept
    return cohort


@FUZZ
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(data):
    """Arbitrary bytes load consistently or raise a CohortError."""
    outcome_of(data)


@FUZZ
@given(header=headers, body=rows, separator=separators, encoding=encodings)
def test_arbitrary_tables(header, body, separator, encoding):
    """Small tables of text and numbers load consistently or raise a CohortError."""
    lines = [separator.join(header)] + [separator.join(row) for row in body]
    data = "\n".join(lines).encode(encoding, errors="replace")
    outcome_of(data)


@settings(max_examples=100, deadline=None)
@given(
    body=st.lists(st.lists(cells, min_size=9, max_size=9), min_size=1, max_size=25),
    separator=separators,
)
def test_arbitrary_cells_standard_header(body, separator):
    """Arbitrary cells under the standard header load consistently or fail cleanly."""
    lines = [separator.join(HEADER)] + [separator.join(row) for row in body]
    outcome_of("\n".join(lines).encode())


@settings(max_examples=30, deadline=None)
@given(body=st.lists(st.lists(cells, min_size=9, max_size=9), max_size=15))
def test_arbitrary_workbooks(body):
    """Workbooks with arbitrary cell text load consistently or raise a CohortError."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row in body:
        sheet.append([_excel_safe(cell) for cell in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    outcome_of(buffer.getvalue())


def _excel_safe(cell: str) -> str:
    # openpyxl rejects control characters in cells, which a real workbook
    # cannot contain either.
    return "".join(c for c in cell if c >= " " or c in "\t\n")


REFERENCE = read_table(join(make_rows(seed=2)).encode(), "reference.csv")
targets = st.sampled_from([*FEATURE_NAMES, OUTCOME, PATIENT_ID])
sources = st.one_of(st.none(), st.sampled_from(list(REFERENCE.frame.columns)))


@FUZZ
@given(
    edits=st.lists(st.tuples(targets, sources), max_size=6),
    exclude=st.booleans(),
    convert=st.lists(st.sampled_from(FEATURE_NAMES), max_size=3),
)
def test_arbitrary_mapping_edits(edits, exclude, convert):
    """Any sequence of mapping-form edits builds a cohort or raises a CohortError."""
    mapping = suggest_mapping(list(REFERENCE.frame.columns))
    for target, source in edits:
        mapping = mapping.with_column(target, source)
    try:
        cohort = build_cohort(REFERENCE, mapping, convert, exclude_implausible=exclude)
    except CohortError:
        return
    report = cohort.report
    assert report.rows_kept + report.rows_excluded == report.rows_read
    assert np.isfinite(cohort.features.to_numpy(dtype=float, na_value=0.0)).all()
