"""Time and memory of named steps: wall time, sampled RSS and tracemalloc peaks.

A background thread reads the resident set size (RSS) with psutil every
``RSS_INTERVAL_SECONDS``, so a spike shorter than that can be missed. The
process-wide high-water mark from ``getrusage`` is recorded as well.
tracemalloc counts Python and NumPy allocations only (NumPy registers its
buffers with it) and slows allocation-heavy code, so a run either times
steps or traces them, never both.
"""

import resource
import threading
import time
import tracemalloc
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

RSS_INTERVAL_SECONDS = 0.02
MIB = 1024 * 1024


class RssSampler:
    """Background thread that keeps the highest RSS seen since the last reset."""

    def __init__(self, interval: float = RSS_INTERVAL_SECONDS) -> None:
        self._process = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._peak = self.current()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def current(self) -> int:
        """Return the RSS now, in bytes."""
        return self._process.memory_info().rss

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            rss = self.current()
            with self._lock:
                self._peak = max(self._peak, rss)

    def start(self) -> "RssSampler":
        """Start sampling in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        """Start a new high-water mark from the RSS now."""
        with self._lock:
            self._peak = self.current()

    def peak(self) -> int:
        """Return the highest RSS since the last reset, in bytes."""
        rss = self.current()
        with self._lock:
            self._peak = max(self._peak, rss)
            return self._peak


@dataclass
class StepRecord:
    """Measurements of one step; memory in MiB, time in seconds."""

    name: str
    seconds: float = 0.0
    rss_peak_mib: float = 0.0
    rss_growth_mib: float = 0.0
    traced_peak_mib: float | None = None
    notes: dict = field(default_factory=dict)


class Meter:
    """Record wall time and memory of consecutive, non-nested steps.

    Parameters
    ----------
    trace : bool
        Start tracemalloc and record each step's peak of traced allocations
        above what was allocated when the step began.
    """

    def __init__(self, trace: bool = False) -> None:
        self.trace = trace
        self.records: dict[str, StepRecord] = {}
        self.sampler = RssSampler().start()
        if trace:
            tracemalloc.start()

    @contextmanager
    def step(self, name: str):
        """Measure the block as step ``name`` and yield its ``StepRecord``."""
        record = StepRecord(name)
        self.records[name] = record
        self.sampler.reset()
        rss_before = self.sampler.current()
        if self.trace:
            traced_before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

        start = time.perf_counter()
        yield record
        record.seconds += time.perf_counter() - start

        record.rss_peak_mib = self.sampler.peak() / MIB
        record.rss_growth_mib = (self.sampler.current() - rss_before) / MIB
        if self.trace:
            peak = tracemalloc.get_traced_memory()[1]
            record.traced_peak_mib = (peak - traced_before) / MIB

    def close(self) -> None:
        """Stop the sampler and tracemalloc."""
        self.sampler.stop()
        if self.trace:
            tracemalloc.stop()


def max_rss_mib() -> float:
    """Return this process's RSS high-water mark from ``getrusage``, in MiB."""
    # Linux reports ru_maxrss in kibibytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
