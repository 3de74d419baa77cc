"""Check a canonical cohort table for implausible, missing and censored values.

Plausibility limits come from ``core.schema`` and catch data-entry errors
(a heart rate of 1111), not unusual patients. Diastolic pressure must also be
below systolic. Values at an assay's upper limit of measurement are censored:
the true value is at least the recorded one, so the row is kept and flagged.
Every row read is either kept or excluded with at least one reason.

Reasons quote the offending value so the user can find and fix it. Reports
stay in the session and are never logged; the log only carries counts.
"""

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, OUTCOME

logger = logging.getLogger(__name__)

# Default upper limits of measurement. The published Zheen Hospital cohort
# (Rashid and Hassan, Mendeley Data, 2022, doi:10.17632/wmhctcrt5v.1) piles
# up at CK-MB 300 ng/mL and troponin 10 ng/mL.
# NOTE: limits differ by assay, so callers should pass the local limits.
CK_MB_CEILING = 300.0
TROPONIN_CEILING = 10.0
IMPUTE_ACTION = "imputed with the cohort median of kept rows"
OUTCOME_ACTION = "kept, outcome unknown"


@dataclass(frozen=True)
class QualityReport:
    """Findings and actions of the quality check, by row and by column.

    Attributes
    ----------
    rows_read, rows_kept, rows_excluded : int
        Row counts; ``rows_kept + rows_excluded == rows_read`` always.
    exclusions : pandas.DataFrame
        Columns ``row``, ``feature``, ``reason``, ``rule``: one line per
        excluded row and problem; ``feature`` is empty for row-wide reasons.
        ``reason`` quotes the value, ``rule`` names the check without it, so
        that rows can be counted per rule.
    missing : pandas.DataFrame
        Columns ``column``, ``count``, ``kind``, ``action``: cells with no
        usable value per column and kind (missing, not a number, unrecognised
        value, implausible value set to missing).
    duplicate_rows : int
        Rows identical in every column to an earlier row; they are kept.
    constant_columns : list of str
        Features with at most one distinct value among kept rows.
    censored : pandas.DataFrame
        Columns ``row``, ``feature``, ``value``, ``reason``: values that are a
        bound (``>300``) or at an assay ceiling. The rows are kept.
    included : pandas.Series
        bool per row read (index = row number): True when kept.
    conversions, unused_columns, notes : list of str
        Unit conversions applied, source columns not used, other remarks.
    """

    rows_read: int
    rows_kept: int
    rows_excluded: int
    exclusions: pd.DataFrame
    missing: pd.DataFrame
    duplicate_rows: int
    constant_columns: list[str]
    censored: pd.DataFrame
    included: pd.Series
    conversions: list[str] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Raise AssertionError when the row counts do not add up."""
        if self.rows_kept + self.rows_excluded != self.rows_read:
            raise AssertionError(
                f"rows kept ({self.rows_kept}) + rows excluded "
                f"({self.rows_excluded}) != rows read ({self.rows_read})"
            )

    def exclusion_counts(self) -> pd.DataFrame:
        """Count excluded rows per rule, with their row numbers.

        Returns
        -------
        pandas.DataFrame
            Columns ``rule``, ``rows`` (number of rows) and ``row_numbers``
            (comma-separated 1-based data rows), most frequent rule first. A
            row that breaks two rules is counted under both.
        """
        grouped = self.exclusions.groupby("rule", sort=False)["row"]
        counts = pd.DataFrame(
            {
                "rows": grouped.nunique(),
                "row_numbers": grouped.agg(
                    lambda rows: ", ".join(str(r) for r in sorted(set(rows)))
                ),
            }
        )
        counts = counts.sort_values("rows", ascending=False, kind="stable")
        return counts.rename_axis("rule").reset_index()

    def to_frame(self) -> pd.DataFrame:
        """Return the report as one flat table for download.

        Columns are ``section``, ``row``, ``column``, ``count`` and ``detail``;
        ``row`` and ``count`` are nullable integers.
        """
        lines = [
            ("summary", None, "", self.rows_read, "rows read"),
            ("summary", None, "", self.rows_kept, "rows kept for clustering"),
            ("summary", None, "", self.rows_excluded, "rows excluded"),
            ("summary", None, "", self.duplicate_rows, "exact duplicate rows (kept)"),
        ]
        for item in self.exclusions.itertuples(index=False):
            lines.append(("excluded", item.row, item.feature, None, item.reason))
        for item in self.missing.itertuples(index=False):
            detail = f"{item.kind}: {item.action}"
            lines.append(("missing", None, item.column, item.count, detail))
        for item in self.censored.itertuples(index=False):
            lines.append(("censored", item.row, item.feature, None, item.reason))
        lines += [
            ("constant", None, c, None, "one value only") for c in self.constant_columns
        ]
        lines += [("conversion", None, "", None, text) for text in self.conversions]
        lines += [
            ("unused", None, c, None, "not used for clustering")
            for c in self.unused_columns
        ]
        lines += [("note", None, "", None, text) for text in self.notes]

        frame = pd.DataFrame(
            lines, columns=["section", "row", "column", "count", "detail"]
        )
        frame["row"] = frame["row"].astype("Int64")
        frame["count"] = frame["count"].astype("Int64")
        return frame


def _feature_text(name: str) -> str:
    label = FEATURE_BY_NAME[name].label
    return label if label[:2].isupper() else label[0].lower() + label[1:]


def _range_text(name: str) -> str:
    feature = FEATURE_BY_NAME[name]
    if np.isinf(feature.upper):
        return f"below the plausible minimum {feature.lower:g}"
    return f"outside the plausible range {feature.lower:g}-{feature.upper:g}"


def implausible_values(values: pd.DataFrame) -> pd.DataFrame:
    """List each implausible cell of a canonical table with its reason.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric columns ``FEATURE_NAMES`` in canonical units; NaN is missing,
        not implausible.

    Returns
    -------
    pandas.DataFrame
        Columns ``row``, ``feature``, ``reason``, ``rule``, ordered by row. A diastolic
        pressure at or above systolic gives one line naming both values, with
        feature ``diastolic_bp``.
    """
    lines = []
    for name in FEATURE_NAMES:
        feature = FEATURE_BY_NAME[name]
        column = values[name]
        flagged = column[(column < feature.lower) | (column > feature.upper)]
        for row, value in flagged.items():
            reason = (
                f"{_feature_text(name)} {value:g} {feature.unit} is {_range_text(name)}"
            )
            rule = f"{_feature_text(name)} {_range_text(name)} {feature.unit}"
            lines.append((row, name, reason, rule))

    systolic, diastolic = values["systolic_bp"], values["diastolic_bp"]
    for row in values.index[diastolic >= systolic]:
        reason = (
            f"diastolic blood pressure {diastolic[row]:g} mmHg is not below "
            f"systolic blood pressure {systolic[row]:g} mmHg"
        )
        rule = "diastolic blood pressure not below systolic"
        lines.append((row, "diastolic_bp", reason, rule))

    frame = pd.DataFrame(lines, columns=["row", "feature", "reason", "rule"])
    return frame.sort_values("row", kind="stable").reset_index(drop=True)


def blank_implausible(values: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``values`` with implausible cells set to NaN.

    Both pressures are blanked when diastolic is not below systolic, because
    either can be the wrong one.
    """
    blanked = values.copy()
    for name in FEATURE_NAMES:
        feature = FEATURE_BY_NAME[name]
        outside = (values[name] < feature.lower) | (values[name] > feature.upper)
        blanked.loc[outside, name] = np.nan

    inverted = values["diastolic_bp"] >= values["systolic_bp"]
    blanked.loc[inverted, ["systolic_bp", "diastolic_bp"]] = np.nan
    return blanked


def check_quality(
    values: pd.DataFrame,
    *,
    censored: pd.DataFrame | None = None,
    unparsed: pd.DataFrame | None = None,
    exclude_implausible: bool = True,
    ck_mb_ceiling: float = CK_MB_CEILING,
    troponin_ceiling: float = TROPONIN_CEILING,
) -> QualityReport:
    """Decide which rows are kept for clustering and report why others are not.

    Parameters
    ----------
    values : pandas.DataFrame
        Canonical table, one row per row read (index = row number): numeric
        columns ``FEATURE_NAMES`` in canonical units, optionally ``outcome``
        (1.0, 0.0 or NaN) and any further columns, which only count towards
        exact duplicates.
    censored : pandas.DataFrame of bool, optional
        Cells that were written as a bound such as ``>300``; same index,
        columns among ``FEATURE_NAMES``.
    unparsed : pandas.DataFrame of bool, optional
        Cells whose text was not a number (features) or not a recognised code
        (gender, outcome); they are NaN in ``values``.
    exclude_implausible : bool
        When True a row with an implausible value is excluded. When False the
        implausible cells are set to missing and imputed, and the row is kept.
    ck_mb_ceiling, troponin_ceiling : float
        Upper limits of measurement in ng/mL; values at or above them are
        flagged as censored.

    Returns
    -------
    QualityReport
        ``conversions`` and ``unused_columns`` are left empty for the caller.
    """
    implausible = implausible_values(values)
    features = values[list(FEATURE_NAMES)]
    notes = []
    if exclude_implausible:
        exclusions = implausible
    else:
        features = blank_implausible(features)
        exclusions = implausible.iloc[:0]
        notes += [
            f"Row {line.row}: {line.reason}. The value was set to missing and "
            "imputed, and the row is kept."
            for line in implausible.itertuples(index=False)
        ]

    exclusions = pd.concat([exclusions, _sparse_rows(features)], ignore_index=True)
    exclusions = exclusions.sort_values("row", kind="stable").reset_index(drop=True)
    included = pd.Series(~values.index.isin(exclusions["row"]), index=values.index)
    ceilings = {"ck_mb": ck_mb_ceiling, "troponin": troponin_ceiling}
    constant = _constant_columns(features.loc[included])
    notes += [
        f"{FEATURE_BY_NAME[name].label} has the same value in every kept row, "
        "so it cannot separate clusters."
        for name in constant
    ]

    report = QualityReport(
        rows_read=len(values),
        rows_kept=int(included.sum()),
        rows_excluded=int((~included).sum()),
        exclusions=exclusions,
        missing=_missing_table(values, features, unparsed),
        duplicate_rows=int(values.duplicated().sum()),
        constant_columns=constant,
        censored=_censored_table(features, censored, ceilings),
        included=included,
        notes=notes,
    )
    _log_summary(report)
    return report


def _sparse_rows(features: pd.DataFrame) -> pd.DataFrame:
    # A row with more than half its features missing would be mostly invented
    # by imputation, so it is kept out of clustering.
    missing_count = features.isna().sum(axis=1)
    sparse = missing_count[missing_count > features.shape[1] / 2]
    lines = [
        (
            row,
            "",
            f"too many missing values: {count} of {features.shape[1]} features missing",
            "more than half of the features missing",
        )
        for row, count in sparse.items()
    ]
    return pd.DataFrame(lines, columns=["row", "feature", "reason", "rule"])


def _missing_table(
    values: pd.DataFrame,
    features: pd.DataFrame,
    unparsed: pd.DataFrame | None,
) -> pd.DataFrame:
    lines = []
    for name in [*FEATURE_NAMES, OUTCOME]:
        if name not in values:
            continue
        after = features[name] if name in features else values[name]
        before = values[name]
        not_parsed = _mask(unparsed, name, values.index)
        empty = before.isna() & ~not_parsed
        blanked = after.isna() & before.notna()
        kind_unparsed = (
            "not a number" if name not in ("gender", OUTCOME) else "unrecognised value"
        )
        action = OUTCOME_ACTION if name == OUTCOME else IMPUTE_ACTION
        for kind, mask in (
            ("missing", empty),
            (kind_unparsed, not_parsed),
            ("implausible, set to missing", blanked),
        ):
            if mask.any():
                lines.append((name, int(mask.sum()), kind, action))
    return pd.DataFrame(lines, columns=["column", "count", "kind", "action"])


def _mask(flags: pd.DataFrame | None, name: str, index: pd.Index) -> pd.Series:
    if flags is None or name not in flags:
        return pd.Series(False, index=index)
    return flags[name].reindex(index, fill_value=False).astype(bool)


def _censored_table(
    features: pd.DataFrame, censored: pd.DataFrame | None, ceilings: dict[str, float]
) -> pd.DataFrame:
    lines = []
    for name in FEATURE_NAMES:
        bound = _mask(censored, name, features.index)
        ceiling = ceilings.get(name, np.inf)
        at_ceiling = (features[name] >= ceiling) & ~bound
        unit = FEATURE_BY_NAME[name].unit
        for row in features.index[bound]:
            value = features.at[row, name]
            reason = (
                f"{_feature_text(name)} was recorded with '<' or '>' as a limit, "
                f"not an exact value; {value:g} {unit} is used"
            )
            lines.append((row, name, value, reason))
        for row in features.index[at_ceiling]:
            value = features.at[row, name]
            reason = (
                f"{_feature_text(name)} {value:g} {unit} is at or above the assay "
                f"ceiling {ceiling:g} {unit}"
            )
            lines.append((row, name, value, reason))

    frame = pd.DataFrame(lines, columns=["row", "feature", "value", "reason"])
    return frame.sort_values("row", kind="stable").reset_index(drop=True)


def _constant_columns(kept_rows: pd.DataFrame) -> list[str]:
    if kept_rows.empty:
        return []
    return [name for name in FEATURE_NAMES if kept_rows[name].nunique(dropna=True) <= 1]


def _log_summary(report: QualityReport) -> None:
    logger.info(
        "quality check: %d rows read, %d kept, %d excluded",
        report.rows_read,
        report.rows_kept,
        report.rows_excluded,
    )
    if report.rows_excluded:
        logger.warning("quality check excluded %d rows", report.rows_excluded)
