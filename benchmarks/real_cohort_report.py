"""Print the default analysis of the real cohort as markdown tables.

Run ``python -m benchmarks.real_cohort_report``. It reads the real cohort
from the shared datasets folder next to the repository, keeps the quality
check's defaults, fits the clusters with ``ClusterSettings()`` and runs
bootstrap stability with its default 100 resamples. Only counts, rates and
summary statistics are printed, never a patient's values.
"""

import sys

import pandas as pd

from benchmarks.cohorts import REAL, REAL_COHORT_PATH, cohort_bytes
from core.clustering import ClusterResult, ClusterSettings, fit_clusters
from core.cohort import Cohort, load_cohort
from core.profiles import outcome_association, outcome_by_cluster, wilson_interval
from core.stability import StabilityResult, bootstrap_stability


def cohort_lines(cohort: Cohort) -> list[str]:
    """Return the table of rows read, kept and excluded by reason."""
    report = cohort.report
    lines = [
        "| cohort | rows |",
        "|---|---:|",
        f"| read | {report.rows_read:,} |",
        f"| kept for clustering | {report.rows_kept:,} |",
        f"| excluded | {report.rows_excluded:,} |",
    ]
    for rule in report.exclusion_counts().itertuples(index=False):
        lines.append(f"| excluded: {rule.rule} | {rule.rows:,} |")
    return lines


def clustering_lines(result: ClusterResult) -> list[str]:
    """Return the table of the chosen k, its reason and the silhouette verdict."""
    recommendation = result.recommendation
    estimate = " (estimated on a sample)" if result.silhouette_estimated else ""
    agree = ", ".join(recommendation.agree) or "none"
    disagree = "; ".join(recommendation.disagree) or "none"
    label, explanation = result.verdict
    return [
        "| clustering | result |",
        "|---|---|",
        f"| chosen k | {result.k} |",
        f"| why | {recommendation.reason} |",
        f"| criteria that agree | {agree} |",
        f"| criteria that disagree | {disagree} |",
        f"| mean silhouette{estimate} | {result.silhouette:.3f} |",
        f"| verdict (Kaufman and Rousseeuw 1990) | {label}: {explanation} |",
    ]


def _percent(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.1%}"


def _rate_text(row: pd.Series) -> str:
    interval = f"{_percent(row['rate_low'])} to {_percent(row['rate_high'])}"
    return f"{_percent(row['rate'])} ({row['events']:,} of {row['n']:,}; {interval})"


def cluster_lines(
    cohort: Cohort, result: ClusterResult, stability: StabilityResult
) -> list[str]:
    """Return one row per cluster: size, name, outcome rate and Jaccard."""
    rates = None
    if cohort.outcome is not None:
        rates = outcome_by_cluster(cohort.outcome.loc[result.index], result.labels)
    lines = [
        "| cluster | name | patients | share | outcome rate (95 % Wilson) "
        "| mean Jaccard (Hennig 2007) |",
        "|---:|---|---:|---:|---|---|",
    ]
    for cluster, row in stability.clusters.iterrows():
        rate = "no outcome column" if rates is None else _rate_text(rates.loc[cluster])
        jaccard = f"{row['mean_jaccard']:.2f}, {row['verdict']}"
        lines.append(
            f"| {cluster} | {result.names[int(cluster)]} | {row['size']:,} "
            f"| {row['share']:.1%} | {rate} | {jaccard} |"
        )
    if rates is not None:
        total = f"{len(result.labels):,}"
        lines.append(f"| all | cohort | {total} | 100.0% | {_cohort_rate(rates)} | |")
    return lines


def _cohort_rate(rates: pd.DataFrame) -> str:
    events, n = int(rates["events"].sum()), int(rates["n"].sum())
    low, high = wilson_interval(events, n)
    interval = f"{_percent(low)} to {_percent(high)}"
    return f"{_percent(events / n)} ({events:,} of {n:,}; {interval})"


def stability_lines(cohort: Cohort, result: ClusterResult, stability) -> list[str]:
    """Return the stability summary and the outcome association sentence."""
    lines = [
        f"Stability: mean adjusted Rand index {stability.mean_ari:.2f} over "
        f"{stability.n_resamples} bootstrap resamples of "
        f"{stability.sample_size:,} patients (seed {result.settings.seed})."
    ]
    if cohort.outcome is not None:
        outcome = cohort.outcome.loc[result.index]
        association = outcome_association(outcome, result.labels)
        lines.append(f"Outcome and cluster: {association.sentence}")
    return lines


def build_report() -> str:
    """Run the default analysis of the real cohort and return the markdown."""
    data, filename = cohort_bytes(REAL)
    cohort = load_cohort(data, filename)
    settings = ClusterSettings()
    result = fit_clusters(cohort.features, settings)
    stability = bootstrap_stability(result.X, result.labels, seed=settings.seed)
    sections = [
        cohort_lines(cohort),
        clustering_lines(result),
        cluster_lines(cohort, result, stability),
        stability_lines(cohort, result, stability),
    ]
    return "\n\n".join("\n".join(section) for section in sections)


def main() -> int:
    """Print the report, or a message when the real cohort is absent."""
    if not REAL_COHORT_PATH.is_file():
        print(f"The real cohort is not at {REAL_COHORT_PATH}.", file=sys.stderr)
        return 1
    print(build_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
