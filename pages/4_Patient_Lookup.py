"""Patient Lookup page: place one patient among the clusters of the cohort."""

import streamlit as st

from core.errors import CohortError, PatientInputError
from core.lookup import assign_patient
from ui import lookup_view, state, widgets

st.set_page_config(page_title="Patient lookup", layout="wide")
st.title("Patient lookup")
widgets.show_disclaimer()

cohort = state.ensure_cohort()
source = state.current_source()
widgets.show_sidebar(source)
widgets.show_cohort_notices(cohort, source)
caption = widgets.cohort_caption(cohort, source)
st.caption(caption)

settings = state.current_settings()
try:
    result = state.clusters_in_use(settings)
except CohortError as error:
    widgets.show_error(error)
    st.stop()
lookup_view.origin_section(result)

features = cohort.features.loc[result.index]
lookup_view.pick_section(features)
submitted = lookup_view.form_section(
    lookup_view.form_defaults(features, cohort, settings)
)
if submitted is not None:
    st.session_state[state.LOOKUP_PATIENT] = submitted

patient = st.session_state.get(state.LOOKUP_PATIENT)
if patient is None:
    st.info("Enter the patient's values and press 'Place the patient'.")
    st.stop()

try:
    assignment = assign_patient(result, patient)
except PatientInputError as error:
    st.error("The patient could not be placed. Please correct:")
    problems = getattr(error, "problems", [str(error)])
    st.text("\n".join(f"- {problem}" for problem in problems))
    st.stop()

lookup_view.assignment_section(assignment, result, caption)
lookup_view.percentile_section(patient, assignment, result, cohort, settings, caption)
lookup_view.neighbours_section(patient, result, cohort, caption)
overrides = lookup_view.reference_editor()
lookup_view.flags_section(patient, overrides)
lookup_view.report_section(patient, assignment, result, cohort, overrides)
