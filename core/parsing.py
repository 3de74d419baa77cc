"""Parse cell text into numbers and coded values without silent coercion.

Cells arrive as the text read from an upload. A number may carry a decimal
comma, surrounding spaces or a bound (``>300``, ``<0.01``, which marks the
value as censored). Missing-value tokens become NaN; any other text becomes NaN
and is flagged, so the quality report can count it.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.schema import GENDER_FEMALE, GENDER_MALE, OUTCOME_NEGATIVE, OUTCOME_POSITIVE

MISSING_TOKENS = frozenset(
    {"", "na", "n/a", "#n/a", "nan", "?", "-", "null", "none", "."}
)

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_CELL_PATTERN = re.compile(rf"^(?P<bound>[<>]=?|≤|≥)?\s*(?P<number>{_NUMBER})$")


@dataclass(frozen=True)
class ParsedNumbers:
    """Numbers parsed from one column of text.

    Attributes
    ----------
    values : pandas.Series
        float64, NaN where the cell was missing or not a number.
    censored : pandas.Series
        bool, True where the text was a bound such as ``>300`` or ``<0.01``;
        the value is the bound itself.
    not_a_number : pandas.Series
        bool, True where the cell held text that is neither a number nor a
        missing-value token.
    """

    values: pd.Series
    censored: pd.Series
    not_a_number: pd.Series


def parse_numbers(text: pd.Series, decimal: str = ".") -> ParsedNumbers:
    """Parse a column of text into numbers without silent coercion.

    Parameters
    ----------
    text : pandas.Series
        Cells as read (strings). Surrounding spaces are ignored.
    decimal : str
        Decimal mark, ``"."`` or ``","``.

    Returns
    -------
    ParsedNumbers
        Values, censored flags and not-a-number flags, all with the index of
        ``text``. Tokens in ``MISSING_TOKENS`` (case-insensitive) are missing,
        not "not a number". Infinity and NaN spelled out are not numbers.
    """
    stripped = text.astype(str).str.strip().str.replace("\u2212", "-", regex=False)
    missing = stripped.str.lower().isin(MISSING_TOKENS)
    if decimal == ",":
        stripped = stripped.str.replace(",", ".", regex=False)

    # Plain numbers take the fast path, and only the rest is searched for bounds.
    plain = stripped.str.fullmatch(_NUMBER).fillna(False).astype(bool)
    values = pd.to_numeric(stripped.where(plain), errors="coerce").astype(np.float64)
    censored = pd.Series(False, index=text.index)
    rest = ~plain & ~missing
    if rest.any():
        parts = stripped[rest].str.extract(_CELL_PATTERN)
        bounded = pd.to_numeric(parts["number"], errors="coerce").astype(np.float64)
        values[rest] = bounded
        censored[rest] = parts["bound"].notna()

    # Overflowing text such as "1e999" parses to infinity, which is no measurement.
    values = values.where(np.isfinite(values))
    censored = censored & values.notna()
    not_a_number = (~missing & values.isna()).astype(bool)
    return ParsedNumbers(values=values, censored=censored, not_a_number=not_a_number)


def map_gender(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Translate gender codes to 1.0 (male) and 0.0 (female).

    Parameters
    ----------
    text : pandas.Series
        Cells as read, such as ``M``/``F``, ``male``/``female`` or ``1``/``0``.

    Returns
    -------
    tuple of pandas.Series
        float64 values (NaN when missing or unrecognised) and a bool mask of
        the cells that held text not recognised as a gender code.
    """
    return _map_codes(text, GENDER_MALE, GENDER_FEMALE)


def map_outcome(text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Translate outcome labels to 1.0 (heart attack) and 0.0 (none).

    Accepts ``positive``/``negative``, ``yes``/``no``, ``1``/``0`` and
    ``true``/``false`` in any case. Returns float64 values (NaN when missing
    or unrecognised) and a bool mask of the unrecognised cells.
    """
    return _map_codes(text, OUTCOME_POSITIVE, OUTCOME_NEGATIVE)


def _map_codes(
    text: pd.Series, one: frozenset[str], zero: frozenset[str]
) -> tuple[pd.Series, pd.Series]:
    # Numeric spellings such as "1.0" from spreadsheets count as their integer.
    key = text.astype(str).str.strip().str.lower()
    key = key.str.replace(r"^([01])\.0*$", r"\1", regex=True)

    values = pd.Series(np.nan, index=text.index, dtype=np.float64)
    values[key.isin(one)] = 1.0
    values[key.isin(zero)] = 0.0
    blank = key.isin(MISSING_TOKENS)
    unrecognised = (values.isna() & ~blank).astype(bool)
    return values, unrecognised
