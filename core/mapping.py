"""Map source columns to canonical features.

Column names are compared after normalisation (lower case, letters and digits
only, unit suffixes such as ``mg/dL`` removed) against the aliases in
``core.schema``. The result is a plain ``ColumnMapping`` that a mapping form
can change one column at a time and check with ``validate_mapping``.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core.errors import ColumnMappingError
from core.schema import (
    FEATURE_BY_NAME,
    FEATURE_NAMES,
    FEATURES,
    OUTCOME,
    OUTCOME_ALIASES,
    PATIENT_ID,
    PATIENT_ID_ALIASES,
)

logger = logging.getLogger(__name__)

# Unit suffixes left at the end of a normalised name, such as "ngl" in
# "troponinngl" from "Troponin (ng/L)". Removing them lets the name match.
_UNIT_SUFFIXES = re.compile(
    r"(mgdl|mmoll|ngml|ngl|ugl|pgml|iul|ul|bpm|mmhg|min|years|yrs|yr|y|mf)$"
)
_LIST_LIMIT = 20


def normalise_name(name: str) -> str:
    """Return a column name in lower case with only its letters and digits.

    A byte-order mark is dropped with the other symbols, so ``"Heart rate "``
    becomes ``"heartrate"`` and ``"CK-MB"`` becomes ``"ckmb"``.
    """
    return "".join(c for c in str(name).casefold() if c.isalnum())


def _alias_targets() -> dict[str, str]:
    targets: dict[str, str] = {}
    for feature in FEATURES:
        targets.update({alias: feature.name for alias in feature.aliases})
    targets.update({alias: OUTCOME for alias in OUTCOME_ALIASES})
    targets.update({alias: PATIENT_ID for alias in PATIENT_ID_ALIASES})
    return targets


def match_column(name: str) -> str | None:
    """Return the canonical target a column name matches, or ``None``.

    The target is a feature name, ``"outcome"`` or ``"patient_id"``. The
    normalised name is tried as it is, then without a trailing unit suffix.
    """
    targets = _alias_targets()
    key = normalise_name(name)
    if key in targets:
        return targets[key]
    stripped = _UNIT_SUFFIXES.sub("", key)
    return targets.get(stripped) if stripped else None


@dataclass(frozen=True)
class ColumnMapping:
    """Source column chosen for each canonical feature and optional column.

    Attributes
    ----------
    features : dict of str to str or None
        Canonical feature name to source column name; every name in
        ``FEATURE_NAMES`` is a key, ``None`` where no column is chosen.
    outcome : str or None
        Source column holding the heart-attack outcome.
    patient_id : str or None
        Source column holding patient identifiers, kept for display only.
    columns : tuple of str
        All source column names in file order.
    """

    features: dict[str, str | None]
    outcome: str | None = None
    patient_id: str | None = None
    columns: tuple[str, ...] = field(default_factory=tuple)

    @property
    def unused(self) -> list[str]:
        """Source columns mapped to nothing, in file order."""
        chosen = set(self.features.values()) | {self.outcome, self.patient_id}
        return [column for column in self.columns if column not in chosen]

    @property
    def missing(self) -> list[str]:
        """Canonical features with no source column, in feature order."""
        return [name for name in FEATURE_NAMES if not self.features.get(name)]

    def with_column(self, target: str, source: str | None) -> "ColumnMapping":
        """Return a new mapping with ``target`` read from ``source``.

        ``target`` is a feature name, ``"outcome"`` or ``"patient_id"``;
        ``source`` ``None`` clears it. A source already used by another target
        is moved, so one column never feeds two targets.
        """
        if target not in FEATURE_BY_NAME and target not in (OUTCOME, PATIENT_ID):
            raise ValueError(f"unknown mapping target {target!r}")
        features = {
            name: (None if column == source and source else column)
            for name, column in self.features.items()
        }
        outcome = None if source and self.outcome == source else self.outcome
        patient_id = None if source and self.patient_id == source else self.patient_id

        if target == OUTCOME:
            outcome = source
        elif target == PATIENT_ID:
            patient_id = source
        else:
            features[target] = source
        return replace(self, features=features, outcome=outcome, patient_id=patient_id)


def suggest_mapping(columns: Sequence[str]) -> ColumnMapping:
    """Suggest a source column for each feature from the column names.

    Parameters
    ----------
    columns : sequence of str
        Source column names in file order.

    Returns
    -------
    ColumnMapping
        The first column matching a target's aliases is chosen; later columns
        with the same match stay unused so the user can pick between them.
    """
    chosen: dict[str, str] = {}
    for column in columns:
        target = match_column(column)
        if target is not None and target not in chosen:
            chosen[target] = column

    mapping = ColumnMapping(
        features={name: chosen.get(name) for name in FEATURE_NAMES},
        outcome=chosen.get(OUTCOME),
        patient_id=chosen.get(PATIENT_ID),
        columns=tuple(columns),
    )
    logger.info(
        "suggested mapping: %d of %d features matched",
        len(FEATURE_NAMES) - len(mapping.missing),
        len(FEATURE_NAMES),
    )
    return mapping


def _list_names(names: Sequence[str]) -> str:
    listed = ", ".join(f"'{name}'" for name in names[:_LIST_LIMIT])
    extra = len(names) - _LIST_LIMIT
    return f"{listed} and {extra} more" if extra > 0 else listed


def validate_mapping(mapping: ColumnMapping, columns: Sequence[str]) -> None:
    """Raise ``ColumnMappingError`` unless the mapping is complete and unambiguous.

    Parameters
    ----------
    mapping : ColumnMapping
        Mapping to check.
    columns : sequence of str
        Columns of the table the mapping will be applied to.

    Raises
    ------
    ColumnMappingError
        When a feature has no column, a chosen column is not in ``columns``,
        or one source column is chosen for two targets (the outcome and the
        patient identifier included, so neither can shape the clusters).
    """
    available = list(columns)
    if mapping.missing:
        labels = ", ".join(FEATURE_BY_NAME[name].label for name in mapping.missing)
        raise ColumnMappingError(
            f"No column is chosen for: {labels}. Available columns: "
            f"{_list_names(available)}. Choose a column for each feature in the "
            "column mapping, or rename the columns in the file."
        )

    targets = {
        **mapping.features,
        OUTCOME: mapping.outcome,
        PATIENT_ID: mapping.patient_id,
    }
    used = {target: source for target, source in targets.items() if source}
    absent = sorted({source for source in used.values() if source not in available})
    if absent:
        raise ColumnMappingError(
            "The mapping names columns that are not in the file: "
            f"{_list_names(absent)}. Available columns: {_list_names(available)}."
        )

    sources = list(used.values())
    shared = sorted({source for source in sources if sources.count(source) > 1})
    if shared:
        names = [t for t, s in used.items() if s in shared]
        raise ColumnMappingError(
            f"The column {_list_names(shared)} is chosen for more than one of "
            f"{', '.join(names)}. Choose a different column for each."
        )
