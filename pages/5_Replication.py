"""Replication page: apply a saved model to the cohort in use and compare."""

import streamlit as st

from core.errors import CohortError
from ui import replication_view, state, widgets

st.set_page_config(page_title="Replication", layout="wide")
st.title("Replication")
st.markdown(
    "Do the clusters of a saved model carry over to the cohort in use? The saved "
    "model assigns each patient to its nearest centre. A fresh k-means fit on "
    "this cohort at the same k and settings gives a second grouping to compare, "
    "and each feature is compared with the cohort the model was fitted on."
)

cohort = state.ensure_cohort()
source = state.current_source()
widgets.show_sidebar(source)
widgets.show_cohort_notices(cohort, source)
caption = widgets.cohort_caption(cohort, source)
st.caption(caption)

bundle = replication_view.bundle_section()
if bundle is None:
    st.stop()

replication_view.same_data_note(bundle, cohort)
try:
    replication = replication_view.compute(bundle, cohort)
except CohortError as error:
    widgets.show_error(error)
    st.stop()

replication_view.agreement_section(replication, caption)
replication_view.smd_section(replication, caption)
