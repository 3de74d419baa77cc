"""Benchmark the engine on the real cohort and synthetic cohorts of given sizes.

Run ``python -m benchmarks.run [--sizes real,100000,1000000] [--out
docs/BENCHMARKS.md]``. Each size runs in fresh Python processes, so that
memory high-water marks do not carry over from one size to the next. One
process times the steps and samples RSS. A second one, skipped with
``--no-tracemalloc``, repeats the steps under tracemalloc for the peak of
Python and NumPy allocations. The markdown report goes to ``--out``.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from threadpoolctl import threadpool_limits

from benchmarks import naive
from benchmarks.cohorts import REPO_ROOT, cohort_bytes
from benchmarks.measure import Meter, max_rss_mib
from benchmarks.report import render_report
from benchmarks.steps import PipelineOutput, quiet_streamlit, run_pipeline

DEFAULT_SIZES = "real,100000,1000000"
DEFAULT_OUT = "docs/BENCHMARKS.md"
DEFAULT_BUDGET_SECONDS = 60.0


def _engine_times(output: PipelineOutput) -> dict[str, float]:
    # The engine's own silhouette and model fit at the chosen k, timed alone
    # so that the naive ratios compare like with like.
    from core.selection import fit_model, silhouette_estimate

    result = output.result
    start = time.perf_counter()
    silhouette_estimate(result.X, result.labels, naive.SEED)
    silhouette = time.perf_counter() - start

    settings = result.settings
    start = time.perf_counter()
    with threadpool_limits(limits=1):
        fit_model(
            result.k,
            settings.seed,
            result.X,
            settings.minibatch_above,
            settings.fit_sample_size,
        )
    fit = time.perf_counter() - start
    return {"silhouette": silhouette, "fit": fit}


def naive_comparisons(output: PipelineOutput, budget: float) -> dict:
    """Run the naive computations next to the engine's own ones."""
    X, labels = output.result.X, output.result.labels
    results = [
        naive.exact_silhouette(X, labels, budget),
        naive.full_batch_kmeans(X, output.result.k, budget),
        naive.tree_per_query(X, X[0]),
        naive.raw_chart_bytes(output.cohort.features),
    ]
    return {"results": naive.as_dicts(results), "engine": _engine_times(output)}


def measure_size(size: str, trace: bool, budget: float) -> dict:
    """Run the pipeline on one cohort in this process and return the numbers."""
    quiet_streamlit()
    data, filename = cohort_bytes(size)
    meter = Meter(trace=trace)
    output = run_pipeline(meter, data, filename)
    pipeline_peak = max(record.rss_peak_mib for record in meter.records.values())
    meter.close()

    comparisons = None if trace else naive_comparisons(output, budget)
    return {
        "size": size,
        "csv_bytes": len(data),
        "steps": [asdict(record) for record in meter.records.values()],
        "charts": [asdict(chart) for chart in output.charts],
        "naive": comparisons,
        "pipeline_rss_peak_mib": pipeline_peak,
        "process_max_rss_mib": max_rss_mib(),
    }


def _measure_in_subprocess(size: str, trace: bool, budget: float) -> dict:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "result.json"
        command = [sys.executable, "-m", "benchmarks.run", "--one", size]
        command += ["--json-out", str(path), "--budget", str(budget)]
        if trace:
            command.append("--trace")
        subprocess.run(command, check=True, cwd=REPO_ROOT)
        return json.loads(path.read_text())


def _merge_traced(timed: dict, traced: dict) -> dict:
    peaks = {step["name"]: step["traced_peak_mib"] for step in traced["steps"]}
    for step in timed["steps"]:
        step["traced_peak_mib"] = peaks.get(step["name"])
    timed["traced_process_max_rss_mib"] = traced["process_max_rss_mib"]
    return timed


def run_sizes(sizes: list[str], trace: bool, budget: float) -> list[dict]:
    """Measure each size in fresh processes and return the merged results."""
    results = []
    for size in sizes:
        print(f"Benchmarking {size} ...", flush=True)
        timed = _measure_in_subprocess(size, False, budget)
        if trace:
            timed = _merge_traced(timed, _measure_in_subprocess(size, True, budget))
        results.append(timed)
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument(
        "--sizes",
        default=DEFAULT_SIZES,
        help="comma-separated cohort sizes: 'real' or a number of patients",
    )
    parser.add_argument("--out", default=DEFAULT_OUT, help="markdown report path")
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_SECONDS,
        help="seconds a naive computation may take before it is only estimated",
    )
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="skip the second, traced run of each size",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks and write the markdown report."""
    args = parse_args(argv)
    if args.one:
        result = measure_size(args.one, args.trace, args.budget)
        Path(args.json_out).write_text(json.dumps(result))
        return

    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    started = time.time()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    results = run_sizes(sizes, not args.no_tracemalloc, args.budget)
    load_after = Path("/proc/loadavg").read_text().split()[:3]

    command = "python -m benchmarks.run " + " ".join(argv or sys.argv[1:])
    report = render_report(results, command.strip(), started, (load_before, load_after))
    out = REPO_ROOT / args.out
    out.write_text(report)
    print(report)
    print(f"Wrote {out}")


if __name__ == "__main__":
    main()
