"""Tests for core.reading: decoding, sniffing, limits and number parsing."""

import io
import zipfile

import numpy as np
import pandas as pd
import pytest
from cases.make_cases import HEADER, join, make_rows, xlsx_bytes
from openpyxl import Workbook

from core.errors import FileFormatError
from core.parsing import parse_numbers
from core.reading import (
    MAX_COLUMNS,
    clean_column_names,
    read_table,
    sniff_decimal,
)

ROWS = make_rows(seed=11)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("cp1252", "cp1252"),
        ("utf-16", "utf-16"),
    ],
)
def test_encoding_detected(encoding, expected):
    """Text with an accented extra column decodes with the expected encoding."""
    rows = [HEADER + ["Notes"]] + [r + ["révision €"] for r in ROWS]
    data = "\n".join(",".join(r) for r in rows).encode(encoding)
    raw = read_table(data, "upload.csv")
    assert raw.encoding == expected
    assert raw.frame["Notes"].iloc[0] == "révision €"


def test_latin1_fallback():
    """Bytes undefined in Windows-1252 fall back to Latin-1 without error."""
    data = (join(ROWS).rstrip("\n") + "\n").encode() + b"1,1,1,1,1,1,1,1,\x81\n"
    raw = read_table(data, "upload.csv")
    assert raw.encoding == "latin-1"


def test_bom_stripped_from_first_column():
    """A UTF-8 byte-order mark is not part of the first column name."""
    raw = read_table(join(ROWS).encode("utf-8-sig"), "upload.csv")
    assert raw.frame.columns[0] == "Age"


@pytest.mark.parametrize("separator", [",", ";", "\t", "|"])
def test_separator_sniffed(separator):
    """Each supported separator is found from the content."""
    raw = read_table(join(ROWS, separator).encode(), "upload.txt")
    assert raw.separator == separator
    assert raw.frame.shape == (len(ROWS), len(HEADER))


@pytest.mark.parametrize(
    ("separator", "comma_decimal", "expected"),
    [(";", True, ","), (";", False, "."), ("\t", True, ","), (",", False, ".")],
)
def test_decimal_mark_sniffed(separator, comma_decimal, expected):
    """A decimal comma is found when numbers are written like 2,05."""
    text = join(ROWS, separator)
    if comma_decimal:
        text = "\n".join(
            separator.join(cell.replace(".", ",") for cell in line.split(separator))
            for line in text.splitlines()
        )
    raw = read_table(text.encode(), "upload.csv")
    assert raw.decimal == expected


def test_quoted_decimal_comma_in_comma_file():
    """Quoted cells such as "2,05" in a comma-separated file set the decimal comma."""
    frame = pd.DataFrame({"a": ["2,05", "3,5", "1"], "b": ["x", "y", "z"]})
    assert sniff_decimal(frame, ",") == ","


def test_crlf_line_endings_read():
    """CRLF line endings leave no carriage return in the last column."""
    raw = read_table(join(ROWS, newline="\r\n").encode(), "upload.csv")
    assert not raw.frame["Result"].str.contains("\r").any()


@pytest.mark.parametrize("filename", ["cohort.xlsx", "cohort.csv", "cohort"])
def test_xlsx_judged_by_content(filename):
    """A workbook is read as xlsx whatever its file name."""
    raw = read_table(xlsx_bytes(ROWS), filename)
    assert raw.kind == "xlsx"
    assert raw.frame.shape == (len(ROWS), len(HEADER))


def test_xlsx_values_match_csv():
    """A workbook gives the same numbers as the CSV of the same rows."""
    from_xlsx = read_table(xlsx_bytes(ROWS), "a.xlsx").frame
    from_csv = read_table(join(ROWS).encode(), "a.csv").frame
    for column in HEADER[:8]:
        left = parse_numbers(from_xlsx[column]).values
        right = parse_numbers(from_csv[column]).values
        assert np.allclose(left, right), column


def test_csv_named_xlsx_read_as_csv():
    """Text named .xlsx is read as CSV."""
    raw = read_table(join(ROWS).encode(), "cohort.xlsx")
    assert raw.kind == "csv"


def _plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \r\n\n\t", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not readable as a table"),
        (b"a,b\n\x00\x01,2\n", "not readable as a table"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "old Excel .xls"),
        (b"PK\x03\x04garbage", "damaged zip"),
        (_plain_zip(), "not an Excel workbook"),
        (",".join(HEADER).encode() + b"\n", "no data rows"),
        (",".join(HEADER).encode() + b"\n,,,,\n\n", "no data rows"),
        (b"a,b\n1,2\n3,4,5\n", "data row 2 has 3 fields"),
        (b"a,b\n1,2\n" + bytes(range(1, 32)) * 20, "binary data"),
    ],
)
def test_unreadable_input_rejected(data, message):
    """Empty, binary, header-only and ragged files raise FileFormatError."""
    with pytest.raises(FileFormatError, match=message):
        read_table(data, "upload.csv")


def test_too_many_columns_rejected():
    """More than MAX_COLUMNS columns raises a message with the count."""
    header = ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1))
    data = f"{header}\n{','.join('1' * (MAX_COLUMNS + 1))}\n".encode()
    with pytest.raises(FileFormatError, match=f"{MAX_COLUMNS + 1} columns"):
        read_table(data, "wide.csv")


def test_everything_read_as_text():
    """Cells keep their text: leading zeros and spaces are not coerced."""
    raw = read_table(b"id,age\n007, 59 \n", "upload.csv")
    assert raw.frame.loc[1, "id"] == "007"
    assert raw.frame.loc[1, "age"] == " 59 "


def test_index_counts_data_rows_from_one():
    """The index is the 1-based data row number, with empty rows dropped."""
    raw = read_table(b"a,b\n1,2\n,\n\n3,4\n", "upload.csv")
    assert list(raw.frame.index) == [1, 4]
    assert raw.empty_rows_dropped == 2


def test_short_rows_padded_and_trailing_fields_dropped():
    """Short rows get empty cells and empty trailing fields are ignored."""
    raw = read_table(b"a,b,c\n1,2\n4,5,6,,\n", "upload.csv")
    assert raw.frame.loc[1, "c"] == ""
    assert raw.frame.shape == (2, 3)


def test_content_hash_is_sha256():
    """content_hash is the SHA-256 digest of the bytes read."""
    import hashlib

    data = join(ROWS).encode()
    assert read_table(data, "a.csv").content_hash == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["\ufeffAge ", "Sex"], ["Age", "Sex"]),
        (["a", "a", "a"], ["a", "a (2)", "a (3)"]),
        (["", "b"], ["column 1", "b"]),
    ],
)
def test_clean_column_names(names, expected):
    """Names lose BOM and spaces, and duplicates or blanks get unique names."""
    assert clean_column_names(names) == expected


@pytest.mark.parametrize(
    ("limit", "value", "message"),
    [
        ("MAX_ROWS", 10, "more than 10 data rows"),
        ("MAX_BYTES", 100, "more than the 100 bytes accepted"),
    ],
)
def test_size_limits(monkeypatch, limit, value, message):
    """Files over the row or byte limit are rejected with the limit named."""
    monkeypatch.setattr(f"core.reading.{limit}", value)
    with pytest.raises(FileFormatError, match=message):
        read_table(join(ROWS).encode(), "big.csv")


def test_workbook_expanding_too_far_rejected(monkeypatch):
    """A workbook whose members expand beyond the limit is not opened."""
    monkeypatch.setattr("core.reading.MAX_XLSX_UNCOMPRESSED", 1000)
    with pytest.raises(FileFormatError, match="expands to more data"):
        read_table(xlsx_bytes(ROWS), "bomb.xlsx")


def test_unbalanced_quote_rejected():
    """An unclosed quote that swallows the file raises FileFormatError."""
    data = b'a,b\n"1,2\n' + b"x" * 200_000 + b"\n"
    with pytest.raises(FileFormatError, match="not readable as a table"):
        read_table(data, "quote.csv")


def _two_sheet_workbook(first_empty: bool) -> bytes:
    workbook = Workbook()
    first = workbook.active
    second = workbook.create_sheet("Other")
    target = second if first_empty else first
    target.append(HEADER)
    for row in ROWS:
        target.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_workbook_with_several_sheets_noted():
    """Only the first sheet is read, and a note gives the sheet count."""
    raw = read_table(_two_sheet_workbook(first_empty=False), "two.xlsx")
    assert raw.frame.shape == (len(ROWS), len(HEADER))
    assert raw.notes == ("The workbook has 2 sheets. Only the first sheet was read.",)


def test_workbook_with_empty_first_sheet_rejected():
    """An empty first sheet raises a message to move the table there."""
    with pytest.raises(FileFormatError, match="first sheet of the workbook"):
        read_table(_two_sheet_workbook(first_empty=True), "two.xlsx")


def test_empty_unnamed_columns_dropped_before_limit():
    """Hundreds of empty unnamed columns are dropped, not counted against the limit."""
    padding = "," * 300
    data = f"a,b{padding}\n1,2{padding}\n".encode()
    raw = read_table(data, "padded.csv")
    assert list(raw.frame.columns) == ["a", "b"]


def test_unnamed_column_with_values_kept():
    """A column with values but no header gets a generated name."""
    raw = read_table(b"a,,c\n1,2,3\n", "upload.csv")
    assert list(raw.frame.columns) == ["a", "column 2", "c"]


def test_separators_only_has_no_data_rows():
    """A file of separators only has no data rows."""
    with pytest.raises(FileFormatError, match="no data rows"):
        read_table(b",,,\n,,,\n", "commas.csv")


def test_workbook_with_extreme_compression_rejected():
    """A small archive whose sheet expands over 100 times is not opened."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", " " * 5_000_000)
    data = buffer.getvalue()
    assert len(data) < 50_000

    with pytest.raises(FileFormatError, match="expands to more data"):
        read_table(data, "bomb.xlsx")
