"""Widgets shared by the pages: disclaimer, cohort summary, basis and errors.

Text that comes from an uploaded file (column names, identifiers, values) is
shown only through ``st.dataframe``, ``st.text``, ``st.code`` or markdown that
``escape_markdown`` has neutralised. No widget here renders HTML.
"""

import re
from collections.abc import Iterable

import streamlit as st

from core.cohort import Cohort
from core.errors import CohortError
from core.schema import FEATURE_BY_NAME
from ui.state import CohortSource

DISCLAIMER = (
    "Decision support, not diagnosis. This dashboard groups patients by "
    "similarity and describes the groups. It is not a medical device, it has "
    "not been validated for clinical use, and none of its outputs is a diagnosis "
    "or a treatment recommendation. Clinical judgement and local protocols "
    "decide."
)

# Characters that markdown or Streamlit's markdown extensions interpret.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$])")


# GitHub-flavoured markdown turns "http://", "www." and "name@host" into links
# after escapes are resolved, so a zero-width space is put inside each trigger.
_AUTOLINK_TRIGGERS = re.compile(r"(://|(?i:www)\.|@)")
_ZERO_WIDTH_SPACE = "\u200b"


def escape_markdown(text: object) -> str:
    """Return ``text`` safe to show inside markdown, such as ``st.error``.

    Every markdown control character is backslash-escaped, and a zero-width
    space breaks each autolink trigger, so text from an uploaded file shows
    literally and never as a link.
    """
    escaped = _AUTOLINK_TRIGGERS.sub(
        lambda match: match.group(0)[0] + _ZERO_WIDTH_SPACE + match.group(0)[1:],
        str(text),
    )
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def show_disclaimer() -> None:
    """Show the decision-support disclaimer."""
    st.warning(DISCLAIMER, icon=":material/medical_information:")


def show_synthetic_badge(source: CohortSource) -> None:
    """Say that the demo cohort is synthetic, when it is the one in use."""
    if source.is_demo:
        st.info(
            "SYNTHETIC demo cohort: generated data, no real patient. Upload a "
            "cohort on the Data page to analyse your own.",
            icon=":material/science:",
        )


def cohort_facts(cohort: Cohort) -> dict[str, str]:
    """Return the headline numbers of a cohort as display strings."""
    report = cohort.report
    facts = {
        "Rows read": f"{report.rows_read:,}",
        "Rows kept": f"{report.rows_kept:,}",
        "Rows excluded": f"{report.rows_excluded:,}",
    }
    outcome = cohort.outcome
    if outcome is not None and outcome.notna().any():
        facts["Outcome positive"] = f"{outcome.mean():.1%}"
    else:
        facts["Outcome positive"] = "no outcome column"
    return facts


def show_cohort_notices(cohort: Cohort, source: CohortSource) -> None:
    """Show the synthetic label and any unit conversion not yet accepted.

    Every page shows these, because a cohort whose blood sugar is still in
    mmol/L is mostly excluded as implausible, which a page that only shows
    clusters would otherwise hide.
    """
    show_synthetic_badge(source)
    pending = [s for s in cohort.unit_suggestions if s.feature not in source.convert]
    for suggestion in pending:
        label = FEATURE_BY_NAME[suggestion.feature].label
        st.warning(
            f"{label} looks like {suggestion.from_unit}, not {suggestion.to_unit}, "
            f"and is not converted: {escape_markdown(suggestion.reason)} Rows it "
            f"makes implausible are excluded. Accept the conversion under Unit "
            f"suggestions on the Data page.",
            icon=":material/straighten:",
        )


def show_cohort_summary(cohort: Cohort, source: CohortSource) -> None:
    """Show the cohort's name and its rows read, kept, excluded and outcome share."""
    st.markdown(f"**Cohort in use:** {escape_markdown(source.display_name)}")
    show_cohort_notices(cohort, source)
    columns = st.columns(4)
    for column, (label, value) in zip(
        columns, cohort_facts(cohort).items(), strict=True
    ):
        column.metric(label, value)


def cohort_caption(cohort: Cohort, source: CohortSource) -> str:
    """Return a one-line, markdown-safe description of the cohort for bases."""
    return (
        f"Cohort: {escape_markdown(source.display_name)}, "
        f"{cohort.report.rows_kept:,} patients kept of "
        f"{cohort.report.rows_read:,} read"
    )


def show_basis(title: str, lines: Iterable[str]) -> None:
    """Show the basis of a statement (numbers, cohort, source) in an expander.

    ``lines`` are markdown; escape any text that comes from the data.
    """
    with st.expander(f"Basis: {title}"):
        for line in lines:
            st.markdown(f"- {line}")


def show_error(error: CohortError) -> None:
    """Show a user-fixable problem as an error box, without a traceback.

    The message can quote file and column names, so it is markdown-escaped.
    """
    st.error(escape_markdown(error), icon=":material/error:")


def show_sidebar(source: CohortSource) -> None:
    """Show the cohort name and the disclaimer in the sidebar of every page."""
    with st.sidebar:
        st.caption("Cohort in use")
        st.text(source.display_name)
        st.caption("Decision support, not diagnosis.")
