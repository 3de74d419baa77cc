"""Turn a table read from an upload into the canonical cohort used everywhere.

``load_cohort`` runs the whole upload path: read the bytes, suggest and check
the column mapping, parse numbers and codes, optionally convert units, and
check data quality. ``build_cohort`` does the same from a table and a mapping
that the user may have edited. The outcome column only describes the cohort
and never enters ``Cohort.features``.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.errors import ColumnMappingError
from core.mapping import ColumnMapping, suggest_mapping, validate_mapping
from core.parsing import map_gender, map_outcome, parse_numbers
from core.quality import (
    CK_MB_CEILING,
    TROPONIN_CEILING,
    QualityReport,
    blank_implausible,
    check_quality,
)
from core.reading import RawTable, read_table
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, OUTCOME, PATIENT_ID
from core.units import UnitSuggestion, apply_conversions, suggest_conversions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cohort:
    """Canonical cohort: every row read, which rows are kept, and the report.

    Attributes
    ----------
    table : pandas.DataFrame
        All rows read (index = 1-based row number). Columns ``FEATURE_NAMES``
        (float64, canonical units, NaN where missing), then ``outcome``
        (1.0, 0.0 or NaN) and ``patient_id`` (text) when mapped, then the
        unused source columns as text.
    included : pandas.Series
        bool per row: True when the row is used for clustering.
    has_outcome : bool
        True when an outcome column is mapped.
    source_name : str
        File name of the upload, for display.
    mapping : ColumnMapping
        Mapping used to build the table.
    unit_suggestions : tuple of UnitSuggestion
        Conversions the values suggest, whether applied or not.
    report : QualityReport
        Data-quality findings; ``report.conversions`` lists those applied.
    content_hash : str
        SHA-256 hex digest of the uploaded bytes.
    fingerprint : str
        SHA-256 over the content hash, mapping and options: a cache key that
        changes when the same file is read with another mapping or unit choice.
    """

    table: pd.DataFrame
    included: pd.Series
    has_outcome: bool
    source_name: str
    mapping: ColumnMapping
    unit_suggestions: tuple[UnitSuggestion, ...]
    report: QualityReport
    content_hash: str
    fingerprint: str = ""

    @property
    def features(self) -> pd.DataFrame:
        """Feature values of the kept rows, columns ``FEATURE_NAMES``."""
        return self.table.loc[self.included, list(FEATURE_NAMES)]

    @property
    def outcome(self) -> pd.Series | None:
        """Outcome of the kept rows (1.0, 0.0 or NaN), or None without outcome."""
        if not self.has_outcome:
            return None
        return self.table.loc[self.included, OUTCOME]


def load_cohort(
    data: bytes,
    filename: str,
    convert_units: bool = False,
    *,
    exclude_implausible: bool = True,
    ck_mb_ceiling: float = CK_MB_CEILING,
    troponin_ceiling: float = TROPONIN_CEILING,
) -> Cohort:
    """Read an upload and build its cohort with the suggested mapping.

    Parameters
    ----------
    data : bytes
        Uploaded file content (CSV or xlsx), kept in memory only.
    filename : str
        Upload name, for display; the format is judged by content.
    convert_units : bool
        Apply every unit conversion that the values suggest.
    exclude_implausible, ck_mb_ceiling, troponin_ceiling
        Passed to ``check_quality``.

    Returns
    -------
    Cohort

    Raises
    ------
    FileFormatError
        When the bytes are not readable as a table.
    ColumnMappingError
        When a feature column cannot be found by name.
    """
    raw = read_table(data, filename)
    mapping = suggest_mapping(list(raw.frame.columns))
    validate_mapping(mapping, list(raw.frame.columns))

    convert: tuple[str, ...] = ()
    if convert_units:
        values, _, _ = _parse_features(raw, mapping)
        convert = tuple(s.feature for s in suggest_conversions(values))
    return build_cohort(
        raw,
        mapping,
        convert,
        exclude_implausible=exclude_implausible,
        ck_mb_ceiling=ck_mb_ceiling,
        troponin_ceiling=troponin_ceiling,
    )


def _check_columns_have_values(values: pd.DataFrame, mapping: ColumnMapping) -> None:
    # A feature with no value at all cannot be imputed: its median does not
    # exist, and clustering on a made-up column would mislead.
    empty = [name for name in FEATURE_NAMES if values[name].notna().sum() == 0]
    if not empty:
        return
    described = ", ".join(
        f"'{mapping.features[name]}' (mapped to {FEATURE_BY_NAME[name].label})"
        for name in empty
    )
    raise ColumnMappingError(
        f"No row has a numeric value in {described}: every cell is empty or not "
        f"a number. Map each of these features to a column that has values, or "
        f"fill the column in and upload the file again."
    )


def build_cohort(
    raw: RawTable,
    mapping: ColumnMapping,
    convert: Iterable[str] = (),
    *,
    exclude_implausible: bool = True,
    ck_mb_ceiling: float = CK_MB_CEILING,
    troponin_ceiling: float = TROPONIN_CEILING,
) -> Cohort:
    """Build the canonical cohort from a table read and a column mapping.

    Parameters
    ----------
    raw : RawTable
        Table of strings from ``read_table``.
    mapping : ColumnMapping
        Source column for each feature; checked with ``validate_mapping``.
    convert : iterable of str
        Features whose suggested unit conversion is applied, such as
        ``("blood_sugar", "troponin")``. A feature with no suggestion is left
        unchanged and a note records it.
    exclude_implausible, ck_mb_ceiling, troponin_ceiling
        Passed to ``check_quality``.

    Returns
    -------
    Cohort

    Raises
    ------
    ColumnMappingError
        When the mapping is incomplete or ambiguous, or a mapped column has
        no numeric value in any row.
    ValueError
        When ``convert`` names something that is not a feature.
    """
    columns = list(raw.frame.columns)
    validate_mapping(mapping, columns)
    requested = _check_convert(convert)

    values, censored, unparsed = _parse_features(raw, mapping)
    _check_columns_have_values(values, mapping)
    suggestions = tuple(suggest_conversions(values))
    applied = [s for s in suggestions if s.feature in requested]
    values = apply_conversions(values, applied)

    table, unparsed = _assemble_table(raw, mapping, values, unparsed)
    report = check_quality(
        table,
        censored=censored,
        unparsed=unparsed,
        exclude_implausible=exclude_implausible,
        ck_mb_ceiling=ck_mb_ceiling,
        troponin_ceiling=troponin_ceiling,
    )
    report = _complete_report(report, raw, mapping, suggestions, applied, requested)
    if not exclude_implausible:
        features = list(FEATURE_NAMES)
        table[features] = blank_implausible(table[features])
    options = (exclude_implausible, ck_mb_ceiling, troponin_ceiling)
    return Cohort(
        table=table,
        included=report.included,
        has_outcome=mapping.outcome is not None,
        source_name=raw.source_name,
        mapping=mapping,
        unit_suggestions=suggestions,
        report=report,
        content_hash=raw.content_hash,
        fingerprint=_fingerprint(raw, mapping, applied, options),
    )


def _check_convert(convert: Iterable[str]) -> set[str]:
    requested = set(convert)
    unknown = sorted(requested - set(FEATURE_NAMES))
    if unknown:
        raise ValueError(
            f"convert names unknown features {unknown}; use {FEATURE_NAMES}"
        )
    return requested


def _parse_features(
    raw: RawTable, mapping: ColumnMapping
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    values, censored, unparsed = {}, {}, {}
    for name in FEATURE_NAMES:
        text = raw.frame[mapping.features[name]]
        if name == "gender":
            values[name], unparsed[name] = map_gender(text)
            censored[name] = pd.Series(False, index=text.index)
            continue
        parsed = parse_numbers(text, raw.decimal)
        values[name], censored[name] = parsed.values, parsed.censored
        unparsed[name] = parsed.not_a_number

    index = raw.frame.index
    return (
        pd.DataFrame(values, index=index).astype(np.float64),
        pd.DataFrame(censored, index=index),
        pd.DataFrame(unparsed, index=index),
    )


def _assemble_table(
    raw: RawTable,
    mapping: ColumnMapping,
    values: pd.DataFrame,
    unparsed: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    table = values.copy()
    unparsed = unparsed.copy()
    if mapping.outcome is not None:
        table[OUTCOME], unparsed[OUTCOME] = map_outcome(raw.frame[mapping.outcome])
    if mapping.patient_id is not None:
        table[PATIENT_ID] = raw.frame[mapping.patient_id].astype(str).str.strip()

    # An unused column named like a canonical column would overwrite it, so
    # its text is kept under a prefixed name.
    for column in mapping.unused:
        name = column if column not in table else f"source: {column}"
        table[name] = raw.frame[column].astype(str)
    table.index = raw.frame.index.copy()
    return table, unparsed


def _complete_report(
    report: QualityReport,
    raw: RawTable,
    mapping: ColumnMapping,
    suggestions: tuple[UnitSuggestion, ...],
    applied: list[UnitSuggestion],
    requested: set[str],
) -> QualityReport:
    notes = [*raw.notes, *report.notes]
    if raw.empty_rows_dropped:
        notes.append(
            f"{_rows(raw.empty_rows_dropped)} with every cell empty were skipped."
        )
    if report.duplicate_rows:
        notes.append(
            f"{_rows(report.duplicate_rows)} repeat an earlier row exactly. "
            "They are kept."
        )
    notes += _unit_notes(suggestions, applied, requested)
    if not mapping.outcome:
        notes.append("The file has no outcome column, so outcome rates are not shown.")
    return replace(
        report,
        conversions=[s.describe() for s in applied],
        unused_columns=mapping.unused,
        notes=notes,
    )


def _rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def _unit_notes(
    suggestions: tuple[UnitSuggestion, ...],
    applied: list[UnitSuggestion],
    requested: set[str],
) -> list[str]:
    notes = [
        f"{s.reason} The values were left unchanged. Convert them from "
        f"{s.from_unit} to {s.to_unit} if that is right."
        for s in suggestions
        if s not in applied
    ]
    skipped = sorted(requested - {s.feature for s in applied})
    if skipped:
        labels = ", ".join(FEATURE_BY_NAME[name].label for name in skipped)
        notes.append(
            f"No unit conversion is suggested for {labels}, so those values "
            "were left unchanged."
        )
    return notes


def _fingerprint(
    raw: RawTable,
    mapping: ColumnMapping,
    applied: list[UnitSuggestion],
    options: tuple,
) -> str:
    parts = [
        raw.content_hash,
        repr(sorted(mapping.features.items())),
        repr((mapping.outcome, mapping.patient_id)),
        repr(sorted(s.feature for s in applied)),
        repr(options),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
