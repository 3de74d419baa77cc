"""Canonical features, their units, their common column names and plausibility limits.

Plausibility limits catch data-entry errors (a heart rate of 1111), not unusual
patients. They follow the plausibility table of the project's reference values:
age 0-120 years, heart rate 20-300/min, systolic 40-300 mmHg, diastolic 20-200
mmHg and below systolic, blood sugar 10-2,000 mg/dL, CK-MB and troponin at or
above 0.

The reference values set no upper limit for CK-MB and troponin. Their upper
limit here, ``LAB_VALUE_CEILING``, is a numeric guard, not a clinical limit.
"""

from dataclasses import dataclass

OUTCOME = "outcome"
PATIENT_ID = "patient_id"

# Upper limit for CK-MB and troponin in ng/mL. It lies far above any assay's
# measuring range (ceilings such as 300 ng/mL for CK-MB), so a larger value is
# an entry or unit error. Without it a value such as 1e308 passes the checks
# and overflows when it is squared during scaling.
LAB_VALUE_CEILING = 100_000.0


@dataclass(frozen=True)
class Feature:
    """One clustering feature in canonical form.

    Attributes
    ----------
    name : str
        Canonical column name used everywhere in ``core``.
    label : str
        Display name for pages and charts.
    unit : str
        Canonical unit; values are converted to it before any check.
    aliases : tuple of str
        Normalised column names (lower case, letters and digits only) that
        map to this feature.
    lower, upper : float
        Inclusive plausibility limits in ``unit``; values outside are
        data-entry errors and keep the row out of clustering.
    skewed : bool
        Right-skewed laboratory value that is log-transformed by default.
    """

    name: str
    label: str
    unit: str
    aliases: tuple[str, ...]
    lower: float
    upper: float
    skewed: bool = False


FEATURES: tuple[Feature, ...] = (
    Feature(
        "age",
        "Age",
        "years",
        ("age", "ageyears", "ageyrs", "years", "patientage", "alter", "edad"),
        0,
        120,
    ),
    Feature(
        "gender",
        "Gender",
        "1 = male, 0 = female",
        ("gender", "sex", "male", "sexmf", "gendermf", "geschlecht", "sexe"),
        0,
        1,
    ),
    Feature(
        "heart_rate",
        "Heart rate",
        "beats/min",
        ("heartrate", "hr", "pulse", "pulserate", "heartratebpm", "bpm", "impluse"),
        20,
        300,
    ),
    Feature(
        "systolic_bp",
        "Systolic blood pressure",
        "mmHg",
        (
            "systolicbloodpressure",
            "systolic",
            "sbp",
            "sysbp",
            "systolicbp",
            "pressurehigh",
            "bpsystolic",
            "sys",
            "systolicpressure",
        ),
        40,
        300,
    ),
    Feature(
        "diastolic_bp",
        "Diastolic blood pressure",
        "mmHg",
        (
            "diastolicbloodpressure",
            "diastolic",
            "dbp",
            "diabp",
            "diastolicbp",
            "pressurelow",
            "bpdiastolic",
            "dia",
            "diastolicpressure",
        ),
        20,
        200,
    ),
    Feature(
        "blood_sugar",
        "Blood sugar",
        "mg/dL",
        (
            "bloodsugar",
            "glucose",
            "bloodglucose",
            "glu",
            "glc",
            "sugar",
            "randomglucose",
            "plasmaglucose",
            "bs",
            "bloodsugarmgdl",
        ),
        10,
        2000,
        skewed=True,
    ),
    Feature(
        "ck_mb",
        "CK-MB",
        "ng/mL",
        ("ckmb", "ckmbmass", "creatinekinasemb", "kcm", "ckmbngml"),
        0,
        LAB_VALUE_CEILING,
        skewed=True,
    ),
    Feature(
        "troponin",
        "Troponin",
        "ng/mL",
        (
            "troponin",
            "trop",
            "tni",
            "tnt",
            "ctni",
            "ctnt",
            "troponini",
            "troponint",
            "hstni",
            "hstnt",
            "hstroponin",
            "troponinngml",
            "hsctni",
            "hsctnt",
            "hstroponini",
            "hstroponint",
        ),
        0,
        LAB_VALUE_CEILING,
        skewed=True,
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}

OUTCOME_ALIASES: tuple[str, ...] = (
    "result",
    "outcome",
    "class",
    "label",
    "target",
    "heartattack",
    "mi",
    "diagnosis",
    "ami",
    "event",
    "output",
)
PATIENT_ID_ALIASES: tuple[str, ...] = (
    "patientid",
    "id",
    "mrn",
    "patient",
    "patientnumber",
    "subjectid",
    "recordid",
    "caseid",
    "pid",
    "casenumber",
    "patientno",
    "subject",
)

# Text values accepted for the outcome and gender columns, after lower-casing
# and stripping. Anything else is reported and treated as missing.
OUTCOME_POSITIVE = frozenset({"positive", "pos", "yes", "y", "1", "true", "t", "mi"})
OUTCOME_NEGATIVE = frozenset({"negative", "neg", "no", "n", "0", "false", "f"})
GENDER_MALE = frozenset({"1", "m", "male", "man", "h", "homme"})
GENDER_FEMALE = frozenset({"0", "f", "female", "woman", "w", "femme"})


def feature_label(name: str) -> str:
    """Return the display label with unit, such as ``"Troponin (ng/mL)"``."""
    feature = FEATURE_BY_NAME[name]
    return f"{feature.label} ({feature.unit})"
