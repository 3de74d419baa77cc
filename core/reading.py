"""Read uploaded bytes into a table of strings and detect its format.

The format is judged by content, never by the file name: a zip archive is read
as an Excel workbook, anything else as delimited text. Every cell is kept as
the text read, so no value is coerced silently. ``core.parsing`` turns text
into numbers later and flags the cells that were not numbers. Uploaded bytes are
read from memory only. Nothing is written to disk or unpickled.
"""

import csv
import hashlib
import io
import logging
import re
import zipfile
from dataclasses import dataclass

import pandas as pd

from core.errors import FileFormatError

logger = logging.getLogger(__name__)

# Sized for registries of a million patients, within the 200 MB upload limit
# set in .streamlit/config.toml.
MAX_BYTES = 200_000_000
MAX_ROWS = 2_000_000
MAX_COLUMNS = 200
# Uncompressed size allowed for all members of an xlsx archive. The zipfile
# module reads a member only up to its declared size, so checking the declared
# sizes rejects a zip bomb before anything is expanded.
MAX_XLSX_UNCOMPRESSED = 200_000_000
# Maximum expansion ratio of one archive member above 1 MB. Worksheet XML of
# cohort tables compresses about 5 to 20 times (an estimate). A small file that
# expands far more is a zip bomb, which would cost minutes and gigabytes to parse.
MAX_XLSX_RATIO = 100
_RATIO_CHECK_ABOVE = 1_000_000

SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_WORKSHEET = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_SAMPLE_LINES = 50
_SAMPLE_CHARS = 200_000
_COMMA_DECIMAL = re.compile(r"^[<>]?\s*[+-]?\d*,\d+$")
_POINT_DECIMAL = re.compile(r"^[<>]?\s*[+-]?\d*\.\d+$")


@dataclass(frozen=True)
class RawTable:
    """Table of strings as read from an upload, with the facts of its format.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per data row, every cell a string (missing cells are ``""``).
        Column names are stripped of byte-order marks and surrounding spaces,
        and made unique. The index is the 1-based data row number, counted as
        a spreadsheet shows the rows below the header. Rows with every cell
        empty are dropped, so the index can have gaps.
    encoding : str
        Text encoding used to decode a CSV file, ``"xlsx"`` for a workbook.
    separator : str or None
        Field separator of a CSV file, ``None`` for a workbook.
    decimal : str
        Decimal mark of the numbers, ``"."`` or ``","``.
    kind : str
        ``"csv"`` or ``"xlsx"``.
    source_name : str
        File name given by the user, for display only.
    content_hash : str
        SHA-256 hex digest of the bytes read.
    empty_rows_dropped : int
        Number of rows with every cell empty that were left out.
    notes : tuple of str
        Remarks about the reading, such as workbook sheets that were not read.
    """

    frame: pd.DataFrame
    encoding: str
    separator: str | None
    decimal: str
    kind: str
    source_name: str = ""
    content_hash: str = ""
    empty_rows_dropped: int = 0
    notes: tuple[str, ...] = ()


def read_table(data: bytes, filename: str) -> RawTable:
    """Read uploaded bytes as a table of strings.

    Parameters
    ----------
    data : bytes
        Content of the uploaded file. It is read from memory only.
    filename : str
        Name of the upload, kept for display. The format is judged by content.

    Returns
    -------
    RawTable
        Strings as read, with the encoding, separator and decimal mark found.

    Raises
    ------
    FileFormatError
        When the file is empty, binary, too large, has no data rows, has more
        than ``MAX_COLUMNS`` columns or cannot be parsed as a table.
    """
    _check_size(data, filename)
    notes: tuple[str, ...] = ()
    if data.startswith(_ZIP_MAGIC):
        grid, notes = _read_xlsx_grid(data, filename)
        encoding, separator = "xlsx", None
    else:
        text, encoding = decode_text(data, filename)
        separator = sniff_separator(text)
        grid = _read_csv_grid(text, separator, filename)

    frame, dropped = _frame_from_grid(grid, filename)
    # Workbook cells hold real numbers, written with a point when read as text.
    decimal = "." if separator is None else sniff_decimal(frame, separator)
    kind = "xlsx" if separator is None else "csv"
    logger.info(
        "read %s table: %d rows, %d columns, encoding %s",
        kind,
        len(frame),
        frame.shape[1],
        encoding,
    )
    return RawTable(
        frame=frame,
        encoding=encoding,
        separator=separator,
        decimal=decimal,
        kind=kind,
        source_name=filename,
        content_hash=hashlib.sha256(data).hexdigest(),
        empty_rows_dropped=dropped,
        notes=notes,
    )


def _check_size(data: bytes, filename: str) -> None:
    if not data or not data.strip():
        raise _empty_file(filename)
    if len(data) > MAX_BYTES:
        raise FileFormatError(
            f"The file '{filename}' has {len(data):,} bytes, more than the "
            f"{MAX_BYTES:,} bytes accepted. Upload a smaller extract."
        )


def _empty_file(filename: str) -> FileFormatError:
    return FileFormatError(
        f"The file '{filename}' is empty. Upload a CSV or Excel file with a "
        "header row and one row per patient."
    )


def _not_a_table(filename: str, detail: str) -> FileFormatError:
    return FileFormatError(
        f"The file '{filename}' is not readable as a table ({detail}). Upload a "
        "CSV text file or an Excel .xlsx workbook with a header row."
    )


def decode_text(data: bytes, filename: str) -> tuple[str, str]:
    """Decode CSV bytes, trying UTF-8 (with or without BOM), then Windows-1252.

    Parameters
    ----------
    data : bytes
        Raw file content.
    filename : str
        Name used in error messages.

    Returns
    -------
    tuple of (str, str)
        The decoded text and the name of the encoding used. Latin-1 is the last
        resort because it decodes any byte sequence.

    Raises
    ------
    FileFormatError
        When the bytes look binary: an old ``.xls`` workbook, NUL bytes outside
        a UTF-16 text, or many control characters.
    """
    if data.startswith(_OLE_MAGIC):
        raise _not_a_table(
            filename, "it is an old Excel .xls workbook; save it as .xlsx or CSV"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode_strict(data, "utf-16", filename), "utf-16"
    if b"\x00" in data:
        raise _not_a_table(filename, "it contains binary data")

    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text, encoding = data.decode("latin-1"), "latin-1"

    if _looks_binary(text):
        raise _not_a_table(filename, "it contains binary data")
    if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8"
    return text, encoding


def _decode_strict(data: bytes, encoding: str, filename: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise _not_a_table(filename, f"it is not valid {encoding} text") from error


def _looks_binary(text: str) -> bool:
    sample = text[:10_000]
    controls = sum(1 for c in sample if ord(c) < 32 and c not in "\t\r\n\f")
    return controls > max(2, len(sample) // 100)


def sniff_separator(text: str) -> str:
    """Return the field separator that splits the first lines most consistently.

    Each candidate in ``SEPARATORS`` is scored by the number of columns it
    gives the header, provided that most sampled lines have that many fields.
    A single-column file falls back to the comma.
    """
    head = text[:_SAMPLE_CHARS].splitlines()[:_SAMPLE_LINES]
    lines = [line for line in head if line.strip()]
    best, best_width = ",", 1
    for separator in SEPARATORS:
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=separator)]
        except csv.Error:
            continue  # an overlong quoted field, which the reader reports later
        if not widths:
            continue
        header_width = widths[0]
        consistent = sum(w == header_width for w in widths) >= 0.8 * len(widths)
        if consistent and header_width > best_width:
            best, best_width = separator, header_width
    return best


def _read_csv_grid(text: str, separator: str, filename: str) -> pd.DataFrame:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                break
    except csv.Error as error:
        raise _not_a_table(filename, f"line {reader.line_num}: {error}") from error
    if not rows:
        raise _empty_file(filename)

    width = len(rows[0])
    for number, row in enumerate(rows[1:], start=1):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise _not_a_table(
                filename,
                f"data row {number} has {len(row)} fields but the header has "
                f"{width}, with {SEPARATOR_NAMES[separator]} as separator",
            )
        # Short rows are padded, and empty trailing fields dropped, because
        # spreadsheets export both; the missing cells are reported later.
        row[width:] = []
        row.extend([""] * (width - len(row)))
    return pd.DataFrame(rows, dtype=object)


def _read_xlsx_grid(data: bytes, filename: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as error:
        raise _not_a_table(filename, "it is a damaged zip archive") from error
    expanded = sum(member.file_size for member in members)
    sheets = sum(_WORKSHEET.match(member.filename) is not None for member in members)
    inflated = any(
        m.file_size > _RATIO_CHECK_ABOVE
        and m.file_size > MAX_XLSX_RATIO * max(m.compress_size, 1)
        for m in members
    )
    if expanded > MAX_XLSX_UNCOMPRESSED or inflated:
        raise _not_a_table(filename, "the workbook expands to more data than accepted")

    try:
        grid = pd.read_excel(
            io.BytesIO(data),
            sheet_name=0,
            engine="openpyxl",
            header=None,
            dtype=str,
            na_filter=False,
            nrows=MAX_ROWS + 2,
        )
    except Exception as error:  # openpyxl raises many types for non-workbook zips
        raise _not_a_table(
            filename, "it is a zip archive but not an Excel workbook"
        ) from error

    if grid.empty and sheets > 1:
        raise FileFormatError(
            f"The first sheet of the workbook '{filename}' is empty. Move the "
            "patient table to the first sheet and upload the workbook again."
        )
    notes = ()
    if sheets > 1:
        notes = (f"The workbook has {sheets} sheets. Only the first sheet was read.",)
    return grid, notes


def _frame_from_grid(grid: pd.DataFrame, filename: str) -> tuple[pd.DataFrame, int]:
    if grid.shape[0] == 0:
        raise _empty_file(filename)

    cells = _drop_empty_columns(grid.astype(object).where(grid.notna(), "").map(str))
    if cells.shape[1] > MAX_COLUMNS:
        raise FileFormatError(
            f"The file '{filename}' has {cells.shape[1]} columns, more than the "
            f"{MAX_COLUMNS} accepted. Remove the columns not needed and upload "
            "it again."
        )
    body = cells.iloc[1:].copy()
    body.columns = clean_column_names(list(cells.iloc[0]))
    body.index = pd.RangeIndex(1, len(body) + 1, name="row")

    filled = body.apply(lambda column: column.str.strip() != "").any(axis=1)
    dropped = int((~filled).sum())
    body = body.loc[filled]
    if body.empty:
        raise FileFormatError(
            f"The file '{filename}' has a header row but no data rows. Add one row "
            "per patient below the header."
        )
    if len(body) > MAX_ROWS:
        raise FileFormatError(
            f"The file '{filename}' has more than {MAX_ROWS:,} data rows. Upload a "
            "smaller extract."
        )
    return body, dropped


def _drop_empty_columns(cells: pd.DataFrame) -> pd.DataFrame:
    # Spreadsheets often export trailing separators or formatted empty columns.
    # A column with no header and no values carries nothing.
    filled = cells.apply(lambda column: (column.str.strip() != "").any())
    return cells.loc[:, filled]


def clean_column_names(names: list[str]) -> list[str]:
    """Strip byte-order marks and spaces from column names and make them unique.

    An empty name becomes ``"column N"`` (N is its 1-based position) and a
    repeated name gets `` (2)``, `` (3)`` and so on appended.
    """
    cleaned: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        text = str(name).replace("\ufeff", "").strip()
        text = text or f"column {position}"
        candidate, copy = text, 2
        while candidate in seen:
            candidate, copy = f"{text} ({copy})", copy + 1
        seen.add(candidate)
        cleaned.append(candidate)
    return cleaned


def sniff_decimal(frame: pd.DataFrame, separator: str | None) -> str:
    """Return ``","`` when numbers in the frame use a decimal comma, else ``"."``.

    Cells such as ``2,05`` are counted against cells such as ``2.05`` in the
    first rows. A comma-separated file only has decimal commas in quoted
    cells, which the same count finds.

    NOTE: a thousands separator such as ``1,234`` looks like a decimal comma;
    when such cells outnumber ``2.05``-style cells the file is misread.
    """
    sample = frame.head(500)
    comma = point = 0
    for column in sample.columns:
        text = sample[column].str.strip()
        comma += int(text.str.match(_COMMA_DECIMAL).sum())
        point += int(text.str.match(_POINT_DECIMAL).sum())
    return "," if comma > point else "."
