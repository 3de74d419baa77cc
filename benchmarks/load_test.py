"""Load test: many browser sessions working the app at once on one server.

Run from the repository root::

    .venv/bin/python -m benchmarks.load_test --sessions 20 --seconds 120

The script starts one Streamlit server on a free 127.0.0.1 port and opens
``--sessions`` contexts (each its own Streamlit session) in one headless
chromium. Each session uploads its own generated cohort (a different row
count and identifier prefix), then loops until the time is up: open
Clustering, choose a new k, open Patient Lookup and place a patient, go back
to Data. After every action the session checks that the page still shows its
own cohort name and row count, and counts a mismatch as cross-talk. It also
counts ``stException`` elements and times the rerun from the click until the
script state is idle again. The server's resident memory is
sampled every two seconds with psutil.

The results go to ``docs/LOAD_TEST.md`` (``--report``) and, as JSON, to the
path given by ``--json``. It is not part of the pytest suite, because a full
run takes minutes; ``tests/browser/test_load_smoke.py`` runs a small version.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from core.demo import make_demo_cohort

REPO_ROOT = Path(__file__).resolve().parents[1]
REPORT_PATH = REPO_ROOT / "docs" / "LOAD_TEST.md"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'
EXCEPTION = '[data-testid="stException"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
ACTION_TIMEOUT_MS = 240_000
RSS_INTERVAL_S = 2.0
BASE_ROWS = 200
ROW_STEP = 17
K_CYCLE = [3, 4, 5, 6, 2]
COHORT_NAME = re.compile(r"load_\d{2}\.csv")


@dataclass
class SessionStats:
    """Counts and timings collected by one browser session."""

    name: str
    rows: int
    actions: int = 0
    rerun_seconds: list[float] = field(default_factory=list)
    step_seconds: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cross_talk: list[str] = field(default_factory=list)


# --- server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start the app on a free loopback port and wait for its health check."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "Home.py",
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(f"streamlit did not answer on {url} within 90 s")


async def sample_rss(pid: int, samples: list, stop: asyncio.Event) -> None:
    """Append (seconds since start, RSS in MB, CPU %) every RSS_INTERVAL_S."""
    process = psutil.Process(pid)
    process.cpu_percent()
    started = time.monotonic()
    while not stop.is_set():
        try:
            rss = process.memory_info().rss / 2**20
            cpu = process.cpu_percent()
        except psutil.Error:
            return
        samples.append((round(time.monotonic() - started, 1), round(rss, 1), cpu))
        try:
            await asyncio.wait_for(stop.wait(), RSS_INTERVAL_S)
        except TimeoutError:
            pass


# --- one session ----------------------------------------------------------------


def cohort_bytes(index: int) -> tuple[str, int, bytes]:
    """Return the file name, row count and CSV bytes of session ``index``."""
    rows = BASE_ROWS + ROW_STEP * index
    frame = make_demo_cohort(seed=100 + index, n_patients=rows)
    frame.insert(0, "patient_id", [f"S{index:02d}-{n:05d}" for n in range(rows)])
    return f"load_{index:02d}.csv", rows, frame.to_csv(index=False).encode()


async def rerun(page, action, expected: str) -> float:
    """Run ``action``; return seconds until ``expected`` shows and the app is idle.

    Under load the rerun can start seconds after the click, so the idle state
    alone may still be the previous page's. Waiting for the text the action
    must produce closes that gap.
    """
    started = time.monotonic()
    await action()
    deadline = started + ACTION_TIMEOUT_MS / 1000
    while expected not in await main_text(page):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected!r} not shown")
        await asyncio.sleep(0.25)
    await page.wait_for_selector(IDLE, timeout=ACTION_TIMEOUT_MS)
    return time.monotonic() - started


async def main_text(page) -> str:
    return await page.locator('[data-testid="stMain"]').inner_text()


async def check_page(page, stats: SessionStats, step: str) -> None:
    """Record an exception element, or another session's file name on the page."""
    if await page.locator(EXCEPTION).count():
        stats.errors.append(f"{step}: stException shown")
    names = set(COHORT_NAME.findall(await main_text(page))) - {stats.name}
    if names:
        stats.cross_talk.append(f"{step}: saw {sorted(names)}")


async def check_rows(page, stats: SessionStats, step: str, rows: int) -> None:
    """Record cross-talk when the Rows read metric is not this session's count."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Rows read")
    displayed_rows = await metric.first.locator(
        '[data-testid="stMetricValue"]'
    ).inner_text()
    if displayed_rows != f"{rows:,}":
        stats.cross_talk.append(
            f"{step}: {displayed_rows} rows read displayed, expected {rows:,}"
        )


async def timed(page, stats: SessionStats, step: str, action, expected: str) -> bool:
    """Run one action, keeping its rerun time or its error."""
    try:
        seconds = await rerun(page, action, expected)
        stats.rerun_seconds.append(seconds)
        stats.step_seconds.setdefault(step, []).append(seconds)
        stats.actions += 1
        return True
    except Exception as error:  # a timeout or a detached element
        stats.errors.append(f"{step}: {type(error).__name__}: {str(error)[:120]}")
        return False


async def run_session(browser, url: str, index: int, deadline: float) -> SessionStats:
    """Upload this session's cohort, then cycle through the pages until deadline."""
    name, rows, data = cohort_bytes(index)
    stats = SessionStats(name, rows)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.on("pageerror", lambda error: stats.errors.append(f"page error: {error}"))
    nav = page.locator('[data-testid="stSidebarNav"]')
    own_caption = f"Cohort: {name}, "

    async def open_link(label: str):
        await nav.get_by_role("link", name=label, exact=True).click()

    try:
        opening = lambda: page.goto(f"{url}/Data")  # noqa: E731
        if not await timed(page, stats, "open", opening, "Data quality"):
            return stats
        file = {"name": name, "mimeType": "text/csv", "buffer": data}
        upload = lambda: page.set_input_files(UPLOAD_INPUT, [file])  # noqa: E731
        in_use = f"Cohort in use: {name}"
        if not await timed(page, stats, "upload", upload, in_use):
            return stats
        await check_page(page, stats, "upload")
        await check_rows(page, stats, "upload", rows)

        turn = 0
        while time.monotonic() < deadline:
            k = K_CYCLE[(index + turn) % len(K_CYCLE)]
            clustering = lambda: open_link("Clustering")  # noqa: E731
            await timed(page, stats, "clustering", clustering, own_caption)
            await check_page(page, stats, "clustering")

            choose = page.locator('[data-testid="stSelectbox"]').filter(
                has_text="Number of clusters k"
            )
            await choose.click()
            option = page.get_by_role("option", name=str(k), exact=True)
            await timed(page, stats, "choose k", option.click, f"{k} clusters")
            await check_page(page, stats, "choose k")

            lookup = lambda: open_link("Patient Lookup")  # noqa: E731
            await timed(page, stats, "lookup", lookup, "Place the patient")
            place = page.get_by_role("button", name="Place the patient")
            await timed(page, stats, "place", place.click, "Compared with the cohort")
            await check_page(page, stats, "place")

            await timed(page, stats, "data", lambda: open_link("Data"), in_use)
            await check_page(page, stats, "data")
            await check_rows(page, stats, "data", rows)
            turn += 1
    except Exception as error:
        stats.errors.append(f"session stopped: {type(error).__name__}: {error}"[:200])
    finally:
        await context.close()
    return stats


async def run_sessions(
    url: str,
    sessions: int,
    seconds: float,
    server_pid: int | None = None,
    settle: float = 0.0,
) -> dict:
    """Drive ``sessions`` browser sessions for ``seconds`` and return the figures.

    With a ``server_pid``, the server's memory is sampled during the load and
    for ``settle`` seconds after every session has closed.
    """
    from playwright.async_api import async_playwright

    rss: list[tuple[float, float, float]] = []
    stop = asyncio.Event()
    started = time.monotonic()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        sampler = None
        if server_pid is not None:
            sampler = asyncio.create_task(sample_rss(server_pid, rss, stop))
        deadline = started + seconds
        results = await asyncio.gather(
            *(run_session(browser, url, i, deadline) for i in range(sessions))
        )
        load_seconds = time.monotonic() - started
        version = browser.version
        await browser.close()
        if sampler is not None:
            await asyncio.sleep(settle)
            stop.set()
            await sampler
    return summarise(results, rss, load_seconds, version)


# --- figures --------------------------------------------------------------------


def rss_trend(samples: list[tuple[float, float, float]], load_seconds: float):
    """Describe the RSS series under load, and its last value after the load.

    Returns start, peak and end of the load, the linear slope over the second
    half of the load, and the last sample taken after the sessions closed.
    """
    after = [s[1] for s in samples if s[0] > load_seconds]
    samples = [s for s in samples if s[0] <= load_seconds]
    if len(samples) < 4:
        return {"samples": len(samples)}
    times = np.array([s[0] for s in samples])
    values = np.array([s[1] for s in samples])
    half = len(values) // 2
    slope = np.polyfit(times[half:], values[half:], 1)[0] * 60
    late_growth = values[half:].max() - values[:half].max()
    return {
        "samples": len(samples),
        "start_mb": float(values[0]),
        "peak_mb": float(values.max()),
        "end_mb": float(values[-1]),
        "second_half_slope_mb_per_min": round(float(slope), 1),
        "second_half_peak_over_first_half_peak_mb": round(float(late_growth), 1),
        "peak_cpu_percent": max(s[2] for s in samples),
        "after_close_mb": after[-1] if after else None,
    }


def summarise(results: list[SessionStats], rss: list, elapsed: float, chromium: str):
    """Collect the per-session counts into the figures of the report."""
    times = [t for stats in results for t in stats.rerun_seconds]
    quantiles = np.percentile(times, [50, 95]) if times else [float("nan")] * 2
    by_step: dict[str, list[float]] = {}
    for stats in results:
        for step, seconds in stats.step_seconds.items():
            by_step.setdefault(step, []).extend(seconds)
    steps = {
        step: {
            "n": len(seconds),
            "median_s": round(float(np.median(seconds)), 2),
            "p95_s": round(float(np.percentile(seconds, 95)), 2),
        }
        for step, seconds in by_step.items()
    }
    return {
        "sessions": len(results),
        "elapsed_s": round(elapsed, 1),
        "actions": sum(stats.actions for stats in results),
        "actions_per_session": [stats.actions for stats in results],
        "errors": sum(len(stats.errors) for stats in results),
        "error_examples": [e for stats in results for e in stats.errors][:10],
        "cross_talk": sum(len(stats.cross_talk) for stats in results),
        "cross_talk_examples": [c for stats in results for c in stats.cross_talk][:10],
        "rerun_median_s": round(float(quantiles[0]), 2),
        "rerun_p95_s": round(float(quantiles[1]), 2),
        "rerun_max_s": round(max(times), 2) if times else None,
        "rerun_mean_s": round(statistics.fmean(times), 2) if times else None,
        "steps": steps,
        "rss": rss_trend(rss, elapsed),
        "rss_series": rss,
        "chromium": chromium,
    }


def machine_facts() -> dict:
    import streamlit

    memory = psutil.virtual_memory().total / 2**30
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(memory, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "streamlit": streamlit.__version__,
    }


def write_report(figures: dict, machine: dict, command: str, path: Path) -> None:
    rss = figures["rss"]
    growth = rss.get("second_half_peak_over_first_half_peak_mb")
    levelled = "n/a"
    if growth is not None:
        levelled = "yes" if growth < 0.05 * rss["peak_mb"] else "no"
    lines = [
        "# Load test",
        "",
        f"Run on {figures['date']} with:",
        "",
        "```bash",
        command,
        "```",
        "",
        "`benchmarks/load_test.py` starts one server on 127.0.0.1 and drives "
        f"{figures['sessions']} sessions from one headless chromium "
        f"({figures['chromium']}). Each session uploads its own generated "
        f"cohort ({BASE_ROWS} + {ROW_STEP} x session number rows, its own "
        "identifier prefix), then loops: open Clustering, choose a new k, open "
        "Patient Lookup and place a patient, open Data. A rerun time runs from "
        "the click until Streamlit reports the script idle again.",
        "",
        "## Machine",
        "",
        f"- {machine['cpus']} CPUs, {machine['memory_gb']} GB RAM, "
        f"{machine['system']}; shared with other work during the run",
        f"- load average at start: {machine['load_average_at_start']}",
        f"- Python {machine['python']}, Streamlit {machine['streamlit']}",
        "",
        "## Results",
        "",
        "| measure | value |",
        "|---|---|",
        f"| time driven | {figures['elapsed_s']} s |",
        f"| actions completed (page opens, uploads, k changes, lookups) | "
        f"{figures['actions']} |",
        f"| actions per session (min to max) | "
        f"{min(figures['actions_per_session'])} to "
        f"{max(figures['actions_per_session'])} |",
        f"| rerun time, median | {figures['rerun_median_s']} s |",
        f"| rerun time, 95th percentile | {figures['rerun_p95_s']} s |",
        f"| rerun time, max | {figures['rerun_max_s']} s |",
        f"| errors (exception element, page error, timeout) | {figures['errors']} |",
        f"| cross-talk (another session's cohort shown) | {figures['cross_talk']} |",
        f"| server RSS start / peak / end | {rss.get('start_mb')} / "
        f"{rss.get('peak_mb')} / {rss.get('end_mb')} MB |",
        f"| RSS slope over the second half | "
        f"{rss.get('second_half_slope_mb_per_min')} MB/min |",
        f"| RSS peak of the second half above that of the first half | {growth} MB |",
        f"| RSS stops growing (that rise under 5 % of the peak) | {levelled} |",
        f"| server CPU peak | {rss.get('peak_cpu_percent')} % of one core |",
        f"| server RSS {figures['settle_s']:g} s after every session closed | "
        f"{rss.get('after_close_mb')} MB |",
        "",
    ]
    lines += [
        "Rerun time by action:",
        "",
        "| action | count | median | 95th percentile |",
        "|---|---|---|---|",
    ]
    for step, numbers in figures["steps"].items():
        lines.append(
            f"| {step} | {numbers['n']} | {numbers['median_s']} s | "
            f"{numbers['p95_s']} s |"
        )
    lines.append("")
    if figures["error_examples"]:
        lines += ["Errors seen (first ten):", ""]
        lines += [f"- `{error}`" for error in figures["error_examples"]]
        lines.append("")
    if figures["cross_talk_examples"]:
        lines += ["Cross-talk seen (first ten):", ""]
        lines += [f"- `{item}`" for item in figures["cross_talk_examples"]]
        lines.append("")
    path.write_text("\n".join(lines))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions")
    parser.add_argument(
        "--seconds", type=float, default=120, help="seconds each session loops"
    )
    parser.add_argument(
        "--report", type=Path, default=REPORT_PATH, help="Markdown report path"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=150,
        help="seconds to keep sampling memory after the sessions close; "
        "Streamlit keeps a disconnected session for 120 s by default",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the report")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    machine = machine_facts()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "load_test_server.log"
    server, url = start_server(log_path)
    try:
        figures = asyncio.run(
            run_sessions(url, args.sessions, args.seconds, server.pid, args.settle)
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    figures["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures["settle_s"] = args.settle
    command = (
        f".venv/bin/python -m benchmarks.load_test --sessions {args.sessions} "
        f"--seconds {args.seconds:g} --settle {args.settle:g}"
    )
    summary = {k: v for k, v in figures.items() if k != "rss_series"}
    print(json.dumps({"machine": machine, **summary}, indent=2))
    print(f"server log: {log_path}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, **figures}, indent=2))
    if not args.no_report:
        write_report(figures, machine, command, args.report)
        print(f"report: {args.report}")
    return 0 if figures["errors"] == 0 and figures["cross_talk"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
