"""Exceptions that a user can cause, one class per kind of problem.

Pages catch ``CohortError`` and its subclasses and show the message with
``st.error``. Any other exception is a bug and must surface in tests.
"""


class CohortError(ValueError):
    """Base class for problems the user can fix; the message says what and how."""


class FileFormatError(CohortError):
    """The uploaded file cannot be read as a table (empty, binary, no data rows)."""


class ColumnMappingError(CohortError):
    """Required feature columns are missing or mapped ambiguously."""


class TooFewPatientsError(CohortError):
    """The cohort has fewer patients or distinct profiles than the chosen k needs."""


class PatientInputError(CohortError):
    """A patient entered on the lookup form has a missing or implausible value."""


class ModelBundleError(CohortError):
    """A saved model bundle fails its checksum, version or content checks."""


class NoClustersError(CohortError):
    """An algorithm left every patient in no cluster, so nothing can be profiled."""
