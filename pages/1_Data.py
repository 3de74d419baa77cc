"""Data page: upload a cohort, fix its mapping and units, read its quality."""

import streamlit as st

from ui import data_view, state, widgets

st.set_page_config(page_title="Data", layout="wide")
st.title("Data")

state.ensure_cohort()
data_view.upload_section()

cohort = state.ensure_cohort()
source = state.current_source()
widgets.show_sidebar(source)
widgets.show_cohort_summary(cohort, source)

pending = st.session_state.get(state.PENDING)
if pending is not None:
    st.warning("The uploaded file needs its column mapping fixed before use.")
    data_view.format_section(pending)
    data_view.mapping_section(pending)
    st.stop()

data_view.format_section(source)
data_view.mapping_section(source)
data_view.units_section(cohort, source)
data_view.size_notice(cohort)
data_view.quality_section(cohort)
data_view.rows_section(cohort)
data_view.distributions_section(cohort)
