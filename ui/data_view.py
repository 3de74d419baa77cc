"""Sections of the Data page: upload, format, mapping, units, quality, rows."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from core import charts
from core.clustering import check_cohort_size
from core.cohort import Cohort
from core.errors import TooFewPatientsError
from core.export import to_safe_csv
from core.schema import FEATURE_BY_NAME, FEATURE_NAMES, OUTCOME, PATIENT_ID
from ui import state
from ui.state import CohortSource
from ui.widgets import escape_markdown

UPLOAD_TYPES = ["csv", "txt", "tsv", "xlsx"]
ROWS_SHOWN = 5_000
NOT_MAPPED = "(not mapped)"


def upload_section() -> None:
    """Offer the file uploader and load a new file as the cohort in use."""
    uploaded = st.file_uploader(
        "Upload a cohort (CSV or Excel .xlsx, one row per patient)",
        type=UPLOAD_TYPES,
        key=state.UPLOADER,
        help="Read in this session's memory only; nothing is written to disk.",
    )
    if uploaded is not None:
        state.accept_upload(uploaded.getvalue(), uploaded.name, uploaded.file_id)

    if st.button("Use the synthetic demo cohort", key=state.DEMO_BUTTON):
        state.load_demo()

    if state.UPLOAD_ERROR in st.session_state:
        st.error(
            "The upload was not loaded; the previous cohort stays in use. "
            + escape_markdown(st.session_state[state.UPLOAD_ERROR]),
            icon=":material/error:",
        )


def format_section(source: CohortSource) -> None:
    """Show the detected format of the file in use."""
    st.subheader("Detected format")
    facts = pd.DataFrame(source.file_format, columns=["Fact", "Value"])
    st.dataframe(facts, hide_index=True, width="content")


def _mapping_options(source: CohortSource) -> list[str]:
    return [NOT_MAPPED, *source.columns]


def _mapping_select(source: CohortSource, target: str, label: str) -> str | None:
    options = _mapping_options(source)
    mapping = source.mapping
    current = {OUTCOME: mapping.outcome, PATIENT_ID: mapping.patient_id}.get(
        target, mapping.features.get(target)
    )
    choice = st.selectbox(
        label,
        options,
        index=options.index(current) if current in options else 0,
        key=f"{state.MAPPING_PREFIX}{target}",
    )
    return None if choice == NOT_MAPPED else choice


def mapping_section(source: CohortSource) -> None:
    """Show the column mapping with a form to correct it."""
    st.subheader("Column mapping")
    st.caption(
        "Each feature reads one source column. The outcome only describes the "
        "clusters; the identifier is shown, never clustered."
    )
    with st.form(state.MAPPING_FORM):
        columns = st.columns(3)
        chosen = {}
        targets = [*FEATURE_NAMES, OUTCOME, PATIENT_ID]
        for position, target in enumerate(targets):
            label = _target_label(target)
            with columns[position % 3]:
                chosen[target] = _mapping_select(source, target, label)
        submitted = st.form_submit_button("Apply mapping", key=state.MAPPING_APPLY)

    if submitted:
        mapping = source.mapping
        features = {name: chosen[name] for name in FEATURE_NAMES}
        mapping = replace(
            mapping,
            features=features,
            outcome=chosen[OUTCOME],
            patient_id=chosen[PATIENT_ID],
        )
        state.activate(replace(source, mapping=mapping))
        st.rerun()

    if source.mapping.unused:
        st.caption("Columns not used for clustering:")
        st.text(", ".join(source.mapping.unused))


def _target_label(target: str) -> str:
    if target == OUTCOME:
        return "Outcome (optional)"
    if target == PATIENT_ID:
        return "Patient identifier (optional)"
    feature = FEATURE_BY_NAME[target]
    return f"{feature.label} ({feature.unit})"


def units_section(cohort: Cohort, source: CohortSource) -> None:
    """Show unit suggestions with a checkbox each to accept the conversion."""
    suggestions = list(cohort.unit_suggestions)
    if not suggestions:
        return
    st.subheader("Unit suggestions")
    with st.form(state.UNITS_FORM):
        accepted = []
        for suggestion in suggestions:
            label = (
                f"Convert {FEATURE_BY_NAME[suggestion.feature].label} from "
                f"{suggestion.from_unit} to {suggestion.to_unit} "
                f"(x {suggestion.factor:g})"
            )
            st.caption(escape_markdown(suggestion.reason))
            checked = st.checkbox(
                label,
                value=suggestion.feature in source.convert,
                key=f"{state.UNITS_PREFIX}{suggestion.feature}",
            )
            if checked:
                accepted.append(suggestion.feature)
        submitted = st.form_submit_button("Apply conversions", key=state.UNITS_APPLY)

    if submitted and tuple(accepted) != source.convert:
        state.activate(replace(source, convert=tuple(accepted)))
        st.rerun()


def size_notice(cohort: Cohort) -> None:
    """Warn when the kept rows are too few to cluster; the rows still show below."""
    try:
        check_cohort_size(cohort.features)
    except TooFewPatientsError as error:
        st.warning(
            f"{escape_markdown(error)} The rows read are shown below; the other "
            f"pages need a larger cohort.",
            icon=":material/group_off:",
        )


def quality_section(cohort: Cohort) -> None:
    """Show the data-quality report and offer it for download."""
    report = cohort.report
    st.subheader("Data quality")
    columns = st.columns(4)
    columns[0].metric("Rows read", f"{report.rows_read:,}")
    columns[1].metric("Rows kept", f"{report.rows_kept:,}")
    columns[2].metric("Rows excluded", f"{report.rows_excluded:,}")
    columns[3].metric("Exact duplicate rows (kept)", f"{report.duplicate_rows:,}")

    _quality_table("Rules that excluded rows", report.exclusion_counts())
    _quality_table("Excluded rows, with the reason", report.exclusions)
    _quality_table("Missing or unusable values per column", report.missing)
    _quality_table(
        "Censored values (a bound or an assay ceiling; kept)", report.censored
    )
    _quality_list("Constant columns", report.constant_columns)
    _quality_list("Unit conversions applied", report.conversions)
    _quality_list("Columns not used for clustering", report.unused_columns)
    _quality_list("Notes", report.notes)

    st.download_button(
        "Download the quality report (CSV)",
        data=to_safe_csv(report.to_frame()),
        file_name="quality_report.csv",
        mime="text/csv",
        key=state.QUALITY_DOWNLOAD,
        on_click="ignore",
    )


def _quality_table(title: str, table: pd.DataFrame) -> None:
    st.markdown(f"**{title}:** {len(table):,}")
    if len(table):
        st.dataframe(table, hide_index=True, height=min(300, 38 + 35 * len(table)))


def _quality_list(title: str, items: list[str]) -> None:
    if items:
        st.markdown(f"**{title}:**")
        st.text("\n".join(str(item) for item in items))


def rows_section(cohort: Cohort) -> None:
    """Show the rows read, with whether each is kept for clustering."""
    st.subheader("Rows")
    table = cohort.table.head(ROWS_SHOWN).copy()
    table.insert(0, "kept", cohort.included.loc[table.index])
    if len(cohort.table) > ROWS_SHOWN:
        st.caption(f"First {ROWS_SHOWN:,} of {len(cohort.table):,} rows.")
    st.dataframe(table, height=320)


@st.cache_data(
    max_entries=state.CACHE_ENTRIES, ttl=state.CACHE_TTL_SECONDS, show_spinner=False
)
def histogram_specs(_cohort: Cohort, key: str) -> list[dict]:
    """Return the Vega-Lite specs of the eight histograms, cached per cohort."""
    # Binning and Altair's validation cost about 0.3 s at a million rows, so
    # a rerun draws the stored specs instead of building the charts again.
    features = _cohort.features
    return [
        state.vega_lite_spec(charts.histogram_chart(features[name], name))
        for name in FEATURE_NAMES
    ]


def distributions_section(cohort: Cohort) -> None:
    """Show a histogram of each feature over the rows kept."""
    st.subheader("Distributions of the rows kept")
    specs = histogram_specs(cohort, cohort.fingerprint)
    columns = st.columns(4)
    for position, spec in enumerate(specs):
        columns[position % 4].vega_lite_chart(spec, width="stretch", height=240)
