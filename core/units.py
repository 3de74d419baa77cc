"""Detect blood sugar in mmol/L and troponin in ng/L, and convert them.

Canonical units are mg/dL for blood sugar and ng/mL for troponin. The rules:

- Blood sugar: mg/dL = mmol/L x 18.016. A median below 35 is almost certainly
  mmol/L, because 35 mg/dL is half the hypoglycaemia threshold of 70 mg/dL
  (American Diabetes Association, level 1).
- Troponin: ng/mL = ng/L / 1000. When most values are above 1 and the median
  is above 5, the values look like ng/L, because a median of 5 ng/mL would be
  over 300 times the common upper reference limit of 0.014 ng/mL.

A conversion is only applied when the caller requests it.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.mapping import ColumnMapping
from core.parsing import parse_numbers
from core.schema import FEATURE_BY_NAME

logger = logging.getLogger(__name__)

MMOL_TO_MG_DL = 18.016
NG_L_TO_NG_ML = 0.001
SUGAR_MMOL_MEDIAN_BELOW = 35.0
TROPONIN_NG_L_MEDIAN_ABOVE = 5.0
TROPONIN_NG_L_VALUE_ABOVE = 1.0


@dataclass(frozen=True)
class UnitSuggestion:
    """A unit conversion that the values of one feature suggest.

    Attributes
    ----------
    feature : str
        Canonical feature name.
    from_unit, to_unit : str
        Unit the values appear to be in, and the canonical unit.
    factor : float
        Multiplier from ``from_unit`` to ``to_unit``.
    reason : str
        Sentence quoting the median that triggered the suggestion.
    """

    feature: str
    from_unit: str
    to_unit: str
    factor: float
    reason: str

    def describe(self) -> str:
        """Return a sentence saying which conversion was applied."""
        label = FEATURE_BY_NAME[self.feature].label
        return (
            f"{label}: converted from {self.from_unit} to {self.to_unit} "
            f"(multiplied by {self.factor:g}). {self.reason}"
        )


def suggest_conversions(values: pd.DataFrame) -> list[UnitSuggestion]:
    """Suggest unit conversions from canonical numeric values.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric columns named by canonical feature; ``blood_sugar`` and
        ``troponin`` are examined when present. NaN values are ignored.

    Returns
    -------
    list of UnitSuggestion
        Empty when both columns look like canonical units.
    """
    suggestions = []
    if "blood_sugar" in values:
        suggestions += _sugar_suggestion(values["blood_sugar"].dropna())
    if "troponin" in values:
        suggestions += _troponin_suggestion(values["troponin"].dropna())
    return suggestions


def _sugar_suggestion(sugar: pd.Series) -> list[UnitSuggestion]:
    if sugar.empty or sugar.median() >= SUGAR_MMOL_MEDIAN_BELOW:
        return []
    reason = (
        f"The median blood sugar is {sugar.median():.3g}, below "
        f"{SUGAR_MMOL_MEDIAN_BELOW:g}, so the values look like mmol/L."
    )
    return [UnitSuggestion("blood_sugar", "mmol/L", "mg/dL", MMOL_TO_MG_DL, reason)]


def _troponin_suggestion(troponin: pd.Series) -> list[UnitSuggestion]:
    if troponin.empty:
        return []
    share_above = float((troponin > TROPONIN_NG_L_VALUE_ABOVE).mean())
    median = float(troponin.median())
    if share_above <= 0.5 or median <= TROPONIN_NG_L_MEDIAN_ABOVE:
        return []
    reason = (
        f"The median troponin is {median:.3g} and {share_above:.0%} of values are "
        f"above {TROPONIN_NG_L_VALUE_ABOVE:g}, so the values look like ng/L."
    )
    return [UnitSuggestion("troponin", "ng/L", "ng/mL", NG_L_TO_NG_ML, reason)]


def detect_units(
    frame: pd.DataFrame, mapping: ColumnMapping, decimal: str = "."
) -> list[UnitSuggestion]:
    """Suggest unit conversions for the mapped blood-sugar and troponin columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        Source table of strings as read (``RawTable.frame``), or numbers.
    mapping : ColumnMapping
        Mapping that names the source columns of ``blood_sugar`` and ``troponin``.
    decimal : str
        Decimal mark of the text cells (``RawTable.decimal``).

    Returns
    -------
    list of UnitSuggestion
        See ``suggest_conversions``.
    """
    values = {}
    for feature in ("blood_sugar", "troponin"):
        source = mapping.features.get(feature)
        if source is not None and source in frame:
            values[feature] = parse_numbers(frame[source], decimal).values
    return suggest_conversions(pd.DataFrame(values, index=frame.index))


def apply_conversions(
    values: pd.DataFrame, suggestions: Sequence[UnitSuggestion] | Iterable
) -> pd.DataFrame:
    """Return a copy of ``values`` with each suggested conversion applied.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric columns named by canonical feature.
    suggestions : iterable of UnitSuggestion
        Conversions to apply; a feature absent from ``values`` is skipped.

    Returns
    -------
    pandas.DataFrame
        Same shape and index; converted columns are float64.
    """
    converted = values.copy()
    for suggestion in suggestions:
        if suggestion.feature in converted:
            column = converted[suggestion.feature].astype(np.float64)
            converted[suggestion.feature] = column * suggestion.factor
            logger.info(
                "converted %s from %s to %s",
                suggestion.feature,
                suggestion.from_unit,
                suggestion.to_unit,
            )
    return converted
