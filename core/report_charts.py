"""Inline SVG charts for the printable patient summary.

vl-convert-python draws Altair charts to SVG offline. A chart that cannot be
drawn, or whose SVG has a script or a link to another resource, is left out,
and the report keeps its tables.
"""

import logging
import re
from collections.abc import Mapping

import pandas as pd

from core import cluster_charts
from core.clustering import ClusterResult
from core.lookup import Assignment
from core.schema import FEATURE_NAMES

logger = logging.getLogger(__name__)

_UNSAFE_SVG = re.compile(r"<script|<foreignObject|(?:href|src)\s*=\s*[\"'](?!#)", re.I)


def chart_svg(chart) -> str | None:
    """Render an Altair chart to inline SVG, or return None when that fails.

    Uses vl-convert-python, which draws offline and raises ``ValueError``
    when a conversion fails. Returns None when the package is missing, the
    conversion fails, or the SVG has no ``<svg>`` element, a script or an
    external link.
    """
    try:
        import vl_convert
    except ImportError:
        return None
    try:
        svg = vl_convert.vegalite_to_svg(chart.to_json())
    except ValueError as error:
        logger.warning(
            "Chart not drawn for the patient report: %s", type(error).__name__
        )
        return None
    start = svg.find("<svg")
    if start < 0 or _UNSAFE_SVG.search(svg):
        logger.warning("Chart left out of the patient report: unsafe SVG content")
        return None
    return svg[start:]


def report_charts(
    result: ClusterResult,
    assignment: Assignment,
    members: pd.DataFrame,
    patient: Mapping[str, float],
) -> tuple[tuple[str, str], ...]:
    """Return (title, SVG) of the distance and percentile charts that could be drawn.

    ``members`` are the feature rows of the assigned cluster.
    """
    distances = pd.Series(assignment.distances).sort_index()
    plotted = {name: patient[name] for name in FEATURE_NAMES if name != "gender"}
    drawn = [
        (
            "Distance to each cluster centre",
            chart_svg(
                cluster_charts.distance_chart(
                    distances, assignment.cluster, result.names
                )
            ),
        ),
        (
            f"Patient (red point) against cluster {assignment.cluster}: bar 25th "
            "to 75th percentile, line 5th to 95th, tick median",
            chart_svg(cluster_charts.patient_against_cluster_chart(members, plotted)),
        ),
    ]
    return tuple((title, svg) for title, svg in drawn if svg)
