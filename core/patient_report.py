"""Build a printable, self-contained HTML summary of one patient's lookup.

The file contains the patient's values, the assigned cluster, the distances
to every centre and the percentiles. It adds the outcome rate among the most
similar patients and the reference flags with their thresholds and sources.
The cohort, the settings, the date and the decision-support disclaimer
complete it. It loads nothing
from the network and runs no script. A Content-Security-Policy forbids both,
and every text that comes from the data goes through ``html.escape``. Charts
are inline SVG drawn by vl-convert-python. Without that package the report
keeps its tables and leaves the charts out.
"""

import html
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

from core.algorithms import ALGORITHMS
from core.clustering import ClusterResult
from core.engine_settings import DEFAULTS
from core.lookup import (
    Assignment,
    NeighbourSummary,
    nearest_patients,
    patient_percentiles,
    reference_flags,
)
from core.report_charts import report_charts
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, feature_label

logger = logging.getLogger(__name__)

FORM_LABEL = "values entered on the lookup form"
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 60em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
td.number { text-align: right; }
.disclaimer { border: 2px solid #b26a00; background: #fff4e0; padding: 0.8em; }
.warning { border-left: 4px solid #d62728; padding-left: 0.6em; }
.basis { color: #555; font-size: 0.9em; }
svg { max-width: 100%; height: auto; }
@media print { body { margin: 0; } h2 { break-after: avoid; } }
"""


@dataclass(frozen=True)
class PatientReport:
    """Everything a patient summary shows, already computed.

    Attributes
    ----------
    patient : mapping of str to float
        The eight validated features in canonical units.
    assignment : Assignment
        Nearest cluster, distances and warnings from ``assign_patient``.
    names : dict of int to str
        Cluster names by number.
    percentiles : pandas.DataFrame
        ``patient_percentiles`` output.
    neighbours : NeighbourSummary
        ``nearest_patients`` output; only its rate and counts are shown.
    has_outcome : bool
        The cohort has an outcome column.
    flags : pandas.DataFrame
        ``reference_flags`` output.
    edited_flags : frozenset of str
        Reference ids whose threshold the user changed.
    cohort_name : str
        Name of the cohort (file name), shown escaped.
    cohort_size : int
        Patients the clusters were fitted on.
    settings : mapping of str to str
        Setting name to its value, in display order.
    created : datetime.datetime
        Time the report was made (timezone-aware).
    disclaimer : str
        Decision-support disclaimer shown at the top and the bottom.
    patient_label : str
        Where the values came from, such as a cohort row and patient id.
    charts : sequence of (str, str)
        Title and inline SVG of each chart; empty when none could be drawn.
    """

    patient: Mapping[str, float]
    assignment: Assignment
    names: Mapping[int, str]
    percentiles: pd.DataFrame
    neighbours: NeighbourSummary
    has_outcome: bool
    flags: pd.DataFrame
    edited_flags: frozenset[str]
    cohort_name: str
    cohort_size: int
    settings: Mapping[str, str]
    created: datetime
    disclaimer: str
    patient_label: str = FORM_LABEL
    charts: Sequence[tuple[str, str]] = field(default_factory=tuple)


def settings_text(
    result: ClusterResult, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return the clustering settings of ``result`` as display text."""
    settings = result.settings
    chosen = "recommended" if settings.k is None else "chosen"
    # Ward cuts the tree at the k of k-means; the others choose k themselves.
    if result.algorithm not in ("kmeans", "ward"):
        chosen = "found by the algorithm"
    text = {
        "Clustering algorithm": ALGORITHMS[result.algorithm],
        "k": f"{result.k} ({chosen})",
        "Log transform of blood sugar, CK-MB, troponin": _yes_no(
            settings.preprocess.log_transform
        ),
        "Gender in the distance": _yes_no(settings.preprocess.include_gender),
        "Seed": str(settings.seed),
        "Features": ", ".join(feature_label(name) for name in result.used_features),
    }
    if result.assignment_note:
        text["Patient assignment"] = result.assignment_note
    text.update(extra or {})
    return text


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def build_report(
    result: ClusterResult,
    features: pd.DataFrame,
    patient: Mapping[str, float],
    assignment: Assignment,
    *,
    outcome: pd.Series | None,
    overrides: Mapping[str, float],
    cohort_name: str,
    disclaimer: str,
    patient_label: str | None = None,
    extra_settings: Mapping[str, str] | None = None,
    created: datetime | None = None,
    with_charts: bool = True,
) -> PatientReport:
    """Compute every part of a patient summary from the fitted clustering.

    Parameters
    ----------
    result : ClusterResult
        The fitted clustering the patient was assigned with.
    features : pandas.DataFrame
        The clustered cohort rows (``result.index``) with ``FEATURE_NAMES``.
    patient : mapping of str to float
        The eight features in canonical units.
    assignment : Assignment
        ``assign_patient(result, patient)``.
    outcome : pandas.Series or None
        The cohort's outcome, aligned with ``result.index``.
    overrides : mapping of str to float
        Reference thresholds changed by the user, by reference id.
    cohort_name, disclaimer : str
        Shown in the header; the name is escaped.
    patient_label : str, optional
        Where the values came from; defaults to the lookup form.
    extra_settings : mapping of str to str, optional
        Settings kept outside ``result``, such as the row exclusion choice.
    created : datetime.datetime, optional
        Defaults to now in UTC.
    with_charts : bool
        Draw the distance and percentile charts as inline SVG.
    """
    members = features.loc[result.labels == assignment.cluster]
    charts = report_charts(result, assignment, members, patient) if with_charts else ()
    return PatientReport(
        patient=dict(patient),
        assignment=assignment,
        names=dict(result.names),
        percentiles=patient_percentiles(
            features, result.labels, patient, assignment.cluster
        ),
        neighbours=nearest_patients(result, patient, outcome),
        has_outcome=outcome is not None,
        flags=reference_flags(patient, overrides),
        edited_flags=frozenset(overrides),
        cohort_name=cohort_name,
        cohort_size=len(result.labels),
        settings=settings_text(result, extra_settings),
        created=created or datetime.now(UTC),
        disclaimer=disclaimer,
        patient_label=patient_label or FORM_LABEL,
        charts=charts,
    )


def render_html(report: PatientReport) -> str:
    """Return the report as one HTML document with inline style and SVG only."""
    assignment = report.assignment
    title = f"Patient summary: cluster {assignment.cluster}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(title)} ({_e(assignment.name)})</h1>",
        f'<p class="disclaimer">{_e(report.disclaimer)}</p>',
        _header(report),
        _section("Patient values", _values_table(report.patient)),
        _assignment_html(report),
        _section("Percentiles", _percentile_table(report.percentiles)),
        _neighbours_html(report),
        _flags_html(report),
        _charts_html(report.charts),
        _section("Settings", _pairs_table(report.settings)),
        f'<p class="disclaimer">{_e(report.disclaimer)}</p>',
        "</body></html>",
    ]
    return "\n".join(parts)


def report_file_name(created: datetime) -> str:
    """Return the download name, such as ``patient_summary_20261204.html``."""
    return f"patient_summary_{created:%Y%m%d}.html"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _section(heading: str, body: str, basis: str = "") -> str:
    note = f'<p class="basis">Basis: {_e(basis)}</p>' if basis else ""
    return f"<h2>{_e(heading)}</h2>\n{body}\n{note}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float) and value != value:
        return '<td class="number">n/a</td>'
    if isinstance(value, int | float):
        return f'<td class="number">{_e(f"{value:g}")}</td>'
    return f"<td>{_e(value)}</td>"


def _pairs_table(pairs: Mapping[str, object]) -> str:
    return _table(
        ("Item", "Value"), [(key, str(value)) for key, value in pairs.items()]
    )


def _header(report: PatientReport) -> str:
    pairs = {
        "Date (UTC)": report.created.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
        "Patient": report.patient_label,
        "Cohort": report.cohort_name,
        "Patients clustered": f"{report.cohort_size:,}",
    }
    return _pairs_table(pairs)


def _values_table(patient: Mapping[str, float]) -> str:
    rows = []
    for name in FEATURE_NAMES:
        value = patient[name]
        if name == "gender":
            gender_text = "male (1)" if value == 1 else "female (0)"
            rows.append((feature_label(name), gender_text, ""))
        else:
            rows.append((feature_label(name), float(value), FEATURE_BY_NAME[name].unit))
    return _table(("Feature", "Value", "Unit"), rows)


def _assignment_html(report: PatientReport) -> str:
    assignment = report.assignment
    rows = [
        (
            f"{cluster}: {report.names.get(cluster, '')}",
            round(distance, 2),
            "assigned" if cluster == assignment.cluster else "",
        )
        for cluster, distance in sorted(assignment.distances.items())
    ]
    notes = list(assignment.warnings)
    if assignment.between_clusters:
        notes.insert(
            0,
            f"Between clusters: the patient is almost as close to cluster "
            f"{assignment.runner_up} as to cluster {assignment.cluster}, so the "
            "assignment is uncertain.",
        )
    warnings = "".join(f'<p class="warning">{_e(note)}</p>' for note in notes)
    margin = DEFAULTS["between_clusters_margin"]
    basis = (
        "the patient is scaled with the fitted pipeline and assigned to the "
        "nearest centre by Euclidean distance in scaled units; between clusters "
        f"when the second-nearest centre is less than {margin:.0%} farther; out "
        "of distribution beyond the 99th percentile of the members' distances or "
        "outside the fitted cohort's range."
    )
    heading = f"Cluster {assignment.cluster}: {assignment.name}"
    body = _table(("Cluster", "Distance", ""), rows) + warnings
    return _section(heading, body, basis)


def _percentile_table(percentiles: pd.DataFrame) -> str:
    rows = [
        (
            feature_label(name),
            float(row["value"]),
            round(float(row["cohort_percentile"]), 0),
            round(float(row["cluster_percentile"]), 0),
        )
        for name, row in percentiles.iterrows()
    ]
    header = ("Feature", "Value", "Cohort percentile", "Cluster percentile")
    basis = (
        "percentile of the patient's value with ties counted half "
        "(scipy.stats.percentileofscore, kind 'mean'); missing values ignored."
    )
    return _table(header, rows) + f'<p class="basis">Basis: {_e(basis)}</p>'


def _neighbours_html(report: PatientReport) -> str:
    summary = report.neighbours
    n = len(summary.table)
    if not report.has_outcome:
        text = "The cohort has no outcome column, so no outcome rate is given."
    elif summary.n_known == 0:
        text = f"None of the {n} nearest patients has a known outcome."
    else:
        text = (
            f"Outcome positive in {summary.events} of the {summary.n_known} nearest "
            f"patients with a known outcome: {summary.rate:.0%} (Wilson 95 % "
            f"interval {summary.rate_low:.0%} to {summary.rate_high:.0%})."
        )
    basis = (
        f"the {n} nearest cohort patients by Euclidean distance in the scaled "
        "space the clusters were fitted in; the outcome never shaped the clusters."
    )
    return _section("Most similar patients", f"<p>{_e(text)}</p>", basis)


def _flags_html(report: PatientReport) -> str:
    if report.flags.empty:
        body = "<p>No value crosses a reference threshold.</p>"
    else:
        rows = [
            (
                flag.label,
                f"{flag.value:g} {flag.unit}",
                f"{flag.comparison} {flag.threshold:g} {flag.unit}"
                + (" (edited)" if flag.id in report.edited_flags else ""),
                flag.source,
            )
            for flag in report.flags.itertuples(index=False)
        ]
        body = _table(("Flag", "Value", "Threshold", "Source"), rows)
    basis = "a flag marks a value for attention; it is not a diagnosis."
    return _section("Reference-value flags", body, basis)


def _charts_html(charts: Sequence[tuple[str, str]]) -> str:
    if not charts:
        return _section(
            "Charts",
            "<p>Charts are not included; the tables above give the values.</p>",
        )
    # The SVG comes from vl-convert, which escapes its text, and chart_svg has
    # rejected scripts and external links, so it is inserted as markup.
    figures = "".join(
        f"<figure>{svg}<figcaption>{_e(title)}</figcaption></figure>"
        for title, svg in charts
    )
    return _section("Charts", figures)
