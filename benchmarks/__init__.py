"""Benchmarks of the clustering engine and the real-cohort results table.

``python -m benchmarks.run`` times every step from uploaded bytes to the data
behind the four pages on synthetic cohorts of given sizes and writes
``docs/BENCHMARKS.md``. ``python -m benchmarks.real_cohort_report`` prints the
results of the default analysis of the real cohort as a markdown table.
"""
