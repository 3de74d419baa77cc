"""Clinical reference values that raise flags beside a patient's values.

Laboratory limits depend on the assay and often on sex, so every threshold is
a default that callers override by id. A flag marks a value for attention; it
is not a diagnosis.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import pandas as pd

_BP_SOURCE = (
    "2017 ACC/AHA blood-pressure guideline (Whelton et al., Hypertension "
    "2018;71:e13-e115): stage 1 hypertension is 130-139 systolic or 80-89 "
    "diastolic, stage 2 is 140 or more systolic or 90 or more diastolic, and "
    "severe (hypertensive crisis) is above 180 systolic or above 120 diastolic."
)
_HR_SOURCE = (
    "Conventional adult resting limits of 60 to 100 beats/min. The 2018 "
    "ACC/AHA/HRS bradycardia guideline uses below 50/min for sinus bradycardia; "
    "this app uses below 60/min unless the threshold is changed."
)
_GLUCOSE_SOURCE = (
    "American Diabetes Association Standards of Care: a random plasma glucose of "
    "200 mg/dL or more with classic symptoms meets the diabetes criterion, and "
    "level 1 hypoglycaemia is below 70 mg/dL."
)
_TROPONIN_SOURCE = (
    "Fourth Universal Definition of Myocardial Infarction (Thygesen et al., 2018; "
    "Circulation 138:e618-e651): myocardial injury is a troponin value above the "
    "assay's 99th-percentile upper reference limit. 0.014 ng/mL (14 ng/L) is the "
    "common limit of one high-sensitivity troponin T assay; conventional assays "
    "sit between 0.01 and 0.04 ng/mL and some troponin I limits are sex-specific."
)
_CKMB_SOURCE = (
    "Assay- and sex-specific 99th percentile; one manufacturer's assay gives "
    "under 2.9 ng/mL for women and under 4.9 ng/mL for men, and European "
    "guidance has used 5 ng/mL. CK-MB is less heart-specific than troponin."
)
_HYPOTENSION_SOURCE = (
    "Common clinical threshold for hypotension, used in shock definitions."
)


@dataclass(frozen=True)
class ReferenceValue:
    """One flag: ``feature comparison threshold`` raises ``label``.

    Attributes
    ----------
    id : str
        Stable key used for overrides.
    feature : str
        Canonical feature name the flag reads.
    comparison : str
        One of ``">"``, ``">="``, ``"<"``, ``"<="``.
    threshold : float
        Default limit in ``unit``.
    unit : str
        Canonical unit of the feature.
    label : str
        Plain name of the flag.
    source : str
        Where the default comes from, with its caveats.
    group : str
        Flags in the same group and above rank 0 show only the highest rank
        that fires (severe hypertension hides stage 2 and stage 1).
    rank : int
        Severity order within ``group``.
    """

    id: str
    feature: str
    comparison: str
    threshold: float
    unit: str
    label: str
    source: str
    group: str = ""
    rank: int = 0


REFERENCE_VALUES: tuple[ReferenceValue, ...] = (
    ReferenceValue("troponin_high", "troponin", ">", 0.014, "ng/mL",
                   "troponin above the upper reference limit", _TROPONIN_SOURCE),
    ReferenceValue("ck_mb_high", "ck_mb", ">", 5.0, "ng/mL",
                   "CK-MB above the upper reference limit", _CKMB_SOURCE),
    ReferenceValue("glucose_high", "blood_sugar", ">=", 200.0, "mg/dL",
                   "blood sugar at the diabetes threshold or above", _GLUCOSE_SOURCE),
    ReferenceValue("glucose_low", "blood_sugar", "<", 70.0, "mg/dL",
                   "hypoglycaemia (level 1)", _GLUCOSE_SOURCE),
    ReferenceValue("bp_stage1_systolic", "systolic_bp", ">=", 130.0, "mmHg",
                   "stage 1 hypertension (systolic)", _BP_SOURCE, "bp_systolic", 1),
    ReferenceValue("bp_stage2_systolic", "systolic_bp", ">=", 140.0, "mmHg",
                   "stage 2 hypertension (systolic)", _BP_SOURCE, "bp_systolic", 2),
    ReferenceValue("bp_severe_systolic", "systolic_bp", ">", 180.0, "mmHg",
                   "severe hypertension (systolic)", _BP_SOURCE, "bp_systolic", 3),
    ReferenceValue("bp_stage1_diastolic", "diastolic_bp", ">=", 80.0, "mmHg",
                   "stage 1 hypertension (diastolic)", _BP_SOURCE, "bp_diastolic", 1),
    ReferenceValue("bp_stage2_diastolic", "diastolic_bp", ">=", 90.0, "mmHg",
                   "stage 2 hypertension (diastolic)", _BP_SOURCE, "bp_diastolic", 2),
    ReferenceValue("bp_severe_diastolic", "diastolic_bp", ">", 120.0, "mmHg",
                   "severe hypertension (diastolic)", _BP_SOURCE, "bp_diastolic", 3),
    ReferenceValue("hypotension", "systolic_bp", "<", 90.0, "mmHg",
                   "hypotension", _HYPOTENSION_SOURCE),
    ReferenceValue("tachycardia", "heart_rate", ">", 100.0, "beats/min",
                   "tachycardia", _HR_SOURCE),
    ReferenceValue("bradycardia", "heart_rate", "<", 60.0, "beats/min",
                   "bradycardia", _HR_SOURCE),
)  # fmt: skip

_COMPARE = {
    ">": lambda value, limit: value > limit,
    ">=": lambda value, limit: value >= limit,
    "<": lambda value, limit: value < limit,
    "<=": lambda value, limit: value <= limit,
}


def reference_values(
    overrides: Mapping[str, float] | None = None,
) -> tuple[ReferenceValue, ...]:
    """Return the reference values with thresholds replaced by ``overrides``.

    Parameters
    ----------
    overrides : mapping of str to float, optional
        New threshold per reference id, in that reference's unit.

    Raises
    ------
    ValueError
        When an override names an id that is not in ``REFERENCE_VALUES`` or
        its threshold is not a finite number.
    """
    overrides = dict(overrides or {})
    known = {ref.id for ref in REFERENCE_VALUES}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ValueError(
            f"Unknown reference id(s) {', '.join(unknown)}; "
            f"valid ids are {', '.join(sorted(known))}."
        )
    for ref_id, threshold in overrides.items():
        if not math.isfinite(float(threshold)):
            raise ValueError(
                f"The threshold for {ref_id} is {threshold!r}; enter a finite number."
            )
    return tuple(
        replace(ref, threshold=float(overrides[ref.id])) if ref.id in overrides else ref
        for ref in REFERENCE_VALUES
    )


def reference_table(overrides: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Return the reference values as a table for display and editing.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``feature``, ``comparison``, ``threshold``, ``unit``,
        ``label``, ``source``, ``group``, ``rank``; one row per flag.
    """
    return pd.DataFrame([ref.__dict__ for ref in reference_values(overrides)])


def evaluate_flags(
    values: Mapping[str, float], overrides: Mapping[str, float] | None = None
) -> list[ReferenceValue]:
    """Return the flags that ``values`` raise, most severe per group only.

    Parameters
    ----------
    values : mapping of str to float
        Canonical feature name to value in canonical units; a missing or NaN
        value raises no flag.
    overrides : mapping of str to float, optional
        New thresholds by reference id.

    Returns
    -------
    list of ReferenceValue
        Raised flags in ``REFERENCE_VALUES`` order, with the thresholds used.
    """
    raised = []
    for ref in reference_values(overrides):
        value = values.get(ref.feature)
        if value is None or math.isnan(float(value)):
            continue
        if _COMPARE[ref.comparison](float(value), ref.threshold):
            raised.append(ref)
    top_rank: dict[str, int] = {}
    for ref in raised:
        if ref.group:
            top_rank[ref.group] = max(top_rank.get(ref.group, 0), ref.rank)
    return [ref for ref in raised if not ref.group or ref.rank == top_rank[ref.group]]
