"""Prometheus metrics, served at GET /metrics in Prometheus's text format.

    cnn_http_requests_total{route, status}               every request, by the endpoint's template
    cnn_http_request_duration_seconds{route, status}     a histogram of the same requests' time
    cnn_stage_duration_seconds{endpoint, stage}          decode, normalise, network, encode
    cnn_predictions_total{digit}                         digits read, one per request (/predict, /predict/image)
    cnn_unsure_predictions_total                         of those, the ones below the unsure threshold
    cnn_batch_predictions_total{digit}, cnn_batch_unsure_predictions_total    the same for /predict/batch's items
    cnn_refused_requests_total{reason}                   turned away by backpressure (503 busy, 429 training)
    cnn_input_ink, cnn_input_centre{axis}                drift: what arrives, before normalisation (one a request)
    cnn_metrics_skipped_files_total                      other processes' files a scrape could not read
    cnn_pool_workers, cnn_pool_busy_workers, cnn_pool_waiting_requests,
    cnn_pool_replaced_workers_total, cnn_training_requests    the worker pool, read at scrape time

The unsure rate is cnn_unsure_predictions_total / sum(cnn_predictions_total): one drawing a request,
so that one client sending batches of 256 noise images cannot move it 256 times faster than by
sending drawings (a batch's items are counted apart, and stay out of the drift histograms). A
request refused by
uvicorn itself at its connection limit (CNN_MAX_CONNECTIONS) never reaches the application and
is not counted here; uvicorn logs it.

One process per container (the Deployment in deploy/kubernetes runs so, as FastAPI advises for
Kubernetes) answers for itself, and Prometheus adds the replicas up. With `--workers` above 1,
uvicorn's processes share a directory (CNN_METRICS_DIR, made by `python -m app`): each leaves its
numbers there every second and when it stops, and whichever process a scrape reaches adds up its
own numbers and everyone else's (the pool's gauges only from processes still alive). A dead
process's counts stay in the sum, as counters must.

Why not prometheus_client's Counter and Histogram: each of their updates takes a lock and checks
its type, and a /predict makes eight of them; measured in the server, they cost more of /predict's
throughput than the whole of this module now does (the figures: BENCHMARKS.md).
Every update here happens on the event loop's one thread (the request log's middleware and the
request path), so plain lists and dictionaries need no lock, and an update is a dictionary
lookup and a bisection. The official client still
writes the text (its families, names, escaping and format), and its parser reads it in the tests.
A scrape renders at most once a second and otherwise answers the last rendering, so a flood of
GET /metrics costs the event loop little more than any other small GET.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from model.weights import atomic_write_bytes

from .facts import Facts

REQUEST_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
STAGE_SECONDS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
INK = (0.01, 0.02, 0.05, 0.08, 0.1, 0.12, 0.14, 0.16, 0.2, 0.3, 0.5, 1)
CENTRE = (0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 1)
FRESH_SECONDS = 1.0  # a scrape within this long of the last rendering gets that rendering
BATCHES = ("predict_batch",)  # endpoints whose items are counted apart from the one-drawing requests


class Histograms:
    """One histogram per combination of label values: counts per bucket (not cumulative; the last is
    +Inf) and the sum, in a plain list."""

    def __init__(self, name: str, documentation: str, labels: tuple[str, ...], bounds: tuple[float, ...]) -> None:
        self.name, self.documentation, self.labels, self.bounds = name, documentation, labels, bounds
        self.series: dict[tuple[str, ...], list[float]] = {}
        self.les = [floatToGoString(b) for b in bounds] + ["+Inf"]

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        counts = self.series.get(labels)
        if counts is None:
            counts = self.series[labels] = [0] * (len(self.bounds) + 1) + [0.0]
        counts[bisect_left(self.bounds, value)] += 1  # the first bucket whose bound is >= value
        counts[-1] += value

    def family(self) -> HistogramMetricFamily:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, counts in self.series.items():
            family.add_metric(list(labels), list(zip(self.les, accumulate(counts[:-1]), strict=True)), counts[-1])
        return family

    def counts(self) -> dict[tuple[str, ...], int]:
        return {labels: int(sum(counts[:-1])) for labels, counts in self.series.items()}

    def add(self, series: list[tuple[list[str], list[float]]]) -> None:
        """Another process's series (as state() lists them) added to these."""
        for labels, counts in series:
            mine = self.series.setdefault(tuple(labels), [0] * (len(counts) - 1) + [0.0])
            for i, count in enumerate(counts):
                mine[i] += count


class Metrics(Collector):
    def __init__(self) -> None:
        self.latency = Histograms(
            "cnn_http_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by route and status",
            ("route", "status"),
            REQUEST_SECONDS,
        )
        self.stages = Histograms(
            "cnn_stage_duration_seconds",
            "Time per stage of an answer: decode (parse the body or the image), normalise, network, encode (JSON)",
            ("endpoint", "stage"),
            STAGE_SECONDS,
        )
        self.ink = Histograms("cnn_input_ink", "Mean ink of each input as it arrives, before normalisation", (), INK)
        self.centre = Histograms(
            "cnn_input_centre",
            "Centre of mass of each input's ink as it arrives, as a fraction of its width (x) or height (y)",
            ("axis",),
            CENTRE,
        )
        self.digits = [0] * 10
        self.unsure = 0
        self.batch_digits = [0] * 10
        self.batch_unsure = 0
        self.skipped = 0  # other processes' files that could not be read (Shared, below)
        self.refused = {"busy": 0, "training": 0, "wrong_token": 0, "guessing": 0}
        self.pool: Callable[[], dict[str, float]] | None = None
        self.shared: Shared | None = None  # the other server processes' numbers, with --workers above 1
        self.registry = CollectorRegistry()
        self.registry.register(self)
        self.text, self.rendered_at = b"", -math.inf

    def watch(self, pool: Callable[[], dict[str, float]]) -> None:
        """Read the worker pool's state from `pool` at every scrape."""
        self.pool = pool

    def request(self, route: str, status: int, seconds: float) -> None:
        self.latency.observe((route, str(status)), seconds)

    def answered(self, endpoint: str, facts: Facts) -> None:
        for stage, seconds in facts.stages:
            self.stages.observe((endpoint, stage), seconds)
        if endpoint in BATCHES:  # a batch's items are counted apart: one client must not swamp the signals
            for d in facts.digits:
                self.batch_digits[d] += 1
            self.batch_unsure += facts.unsure
            return
        for d in facts.digits:
            self.digits[d] += 1
        self.unsure += facts.unsure
        for ink, x, y in facts.looks:
            self.ink.observe((), ink)
            if ink > 0:
                self.centre.observe(("x",), x)
                self.centre.observe(("y",), y)

    def turned_away(self, reason: str) -> None:
        self.refused[reason] += 1

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "cnn_http_requests", "HTTP requests answered, by route and status", labels=("route", "status")
        )
        for labels, n in self.latency.counts().items():
            requests.add_metric(list(labels), n)
        yield requests
        yield self.latency.family()
        yield self.stages.family()
        predictions = CounterMetricFamily("cnn_predictions", "Digits read, by digit", labels=("digit",))
        for d, n in enumerate(self.digits):
            predictions.add_metric([str(d)], n)
        yield predictions
        yield CounterMetricFamily(
            "cnn_unsure_predictions", "Digits read with a top probability below the unsure threshold", self.unsure
        )
        batch = CounterMetricFamily(
            "cnn_batch_predictions", "Digits read in /predict/batch's items, by digit", labels=("digit",)
        )
        for d, n in enumerate(self.batch_digits):
            batch.add_metric([str(d)], n)
        yield batch
        yield CounterMetricFamily(
            "cnn_batch_unsure_predictions", "Of /predict/batch's items, the unsure ones", self.batch_unsure
        )
        yield CounterMetricFamily(
            "cnn_metrics_skipped_files",
            "Files in CNN_METRICS_DIR that a rendering could not read and left out of the sums",
            self.skipped,
        )
        refused = CounterMetricFamily(
            "cnn_refused_requests",
            "Requests turned away by backpressure: busy (503, the pool's queue or the bodies in flight "
            "are full), training (429, every training slot is taken), wrong_token (401, a wrong teacher's "
            "token) or guessing (429, too many wrong tokens from one address)",
            labels=("reason",),
        )
        for reason, n in self.refused.items():
            refused.add_metric([reason], n)
        yield refused
        yield self.ink.family()
        yield self.centre.family()
        if self.pool is not None:
            yield from pool_families(self.pool())

    def exposition(self) -> bytes:
        now = time.monotonic()
        if now - self.rendered_at >= FRESH_SECONDS:
            self.text, self.rendered_at = generate_latest(self.total().registry), now
        return self.text

    def state(self) -> dict:
        """Every number, as JSON can hold it: what one process leaves for the others."""
        return {
            "histograms": {h.name: list(h.series.items()) for h in self.histograms()},
            "digits": self.digits,
            "unsure": self.unsure,
            "batch_digits": self.batch_digits,
            "batch_unsure": self.batch_unsure,
            "refused": self.refused,
            "pool": self.pool() if self.pool is not None else None,
        }

    def total(self) -> Metrics:
        """These numbers, plus the other server processes' when they are shared. A file that is not
        a state this version writes is left out and counted (cnn_metrics_skipped_files_total): one
        bad file must not make every scrape fail."""
        if self.shared is None:
            return self
        total, pools = Metrics(), []
        others, unreadable = self.shared.others()
        self.skipped += unreadable
        for state in [self.state(), *others]:
            if not total.readable(state):
                self.skipped += 1
                continue
            for h in total.histograms():
                h.add(state["histograms"][h.name])
            total.digits = [a + b for a, b in zip(total.digits, state["digits"], strict=True)]
            total.unsure += state["unsure"]
            total.batch_digits = [a + b for a, b in zip(total.batch_digits, state["batch_digits"], strict=True)]
            total.batch_unsure += state["batch_unsure"]
            for reason, n in state["refused"].items():
                total.refused[reason] += n
            if state["pool"] is not None:
                pools.append(state["pool"])
        if pools:
            total.watch(lambda: {k: sum(p[k] for p in pools) for k in POOL_KEYS})
        total.skipped = self.skipped
        return total

    def readable(self, state: Any) -> bool:
        """Whether `state` is what state() makes: every list of the right length, every number a number."""
        try:
            histograms = all(
                len(labels) == len(h.labels)
                and all(isinstance(v, str) for v in labels)
                and len(counts) == len(h.bounds) + 2
                and all(map(number, counts))
                for h in self.histograms()
                for labels, counts in state["histograms"][h.name]
            )
            pool = state["pool"]
            return (
                histograms
                and all(len(state[k]) == 10 and all(map(number, state[k])) for k in ("digits", "batch_digits"))
                and number(state["unsure"])
                and number(state["batch_unsure"])
                and set(state["refused"]) <= set(self.refused)
                and all(map(number, state["refused"].values()))
                and (pool is None or all(number(pool.get(k)) for k in POOL_KEYS))
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    def histograms(self) -> tuple[Histograms, ...]:
        return self.latency, self.stages, self.ink, self.centre


POOL_KEYS = ("workers", "busy", "waiting", "training", "replaced")


def number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) and x >= 0


SHARE_SECONDS = 1.0  # how often a server process leaves its numbers for the others


async def publish(metrics: Metrics, shared: Shared) -> None:
    """Leave this process's numbers in the shared directory every SHARE_SECONDS. The state is taken
    on the event loop (where every update happens, so it is consistent); the file is written by a
    thread, so a slow disk never holds the loop."""
    while True:
        data = json.dumps(metrics.state()).encode()  # a copy, while nothing else runs
        await asyncio.to_thread(shared.write, data)
        await asyncio.sleep(SHARE_SECONDS)


class Shared:
    """A directory where each server process leaves its numbers as <pid>.json."""

    def __init__(self, directory: os.PathLike[str] | str) -> None:
        self.directory = os.fspath(directory)
        self.mine = os.path.join(self.directory, f"{os.getpid()}.json")

    def publish(self, state: dict) -> None:
        self.write(json.dumps(state).encode())

    def write(self, data: bytes) -> None:
        """Written whole or not at all: a reader sees the last complete file."""
        atomic_write_bytes(self.mine, data)

    def others(self) -> tuple[list[Any], int]:
        """The other processes' states as JSON gave them (total() checks them), and how many files
        could not be read at all."""
        states: list[Any] = []
        unreadable = 0
        try:
            names = os.listdir(self.directory)
        except OSError:
            return states, 1  # the directory itself is gone: this process's numbers still answer
        for name in names:
            path = os.path.join(self.directory, name)
            if not (name.endswith(".json") and name[:-5].isdigit()) or path == self.mine:
                continue
            try:
                with open(path, "rb") as f:
                    data = f.read(MAX_STATE_BYTES + 1)
                if len(data) > MAX_STATE_BYTES:
                    raise ValueError("too large to be a state")
                state = json.loads(data)
            except FileNotFoundError:
                continue  # its process is being replaced
            except (OSError, ValueError, RecursionError):
                unreadable += 1
                continue
            if isinstance(state, dict) and not alive(int(name.removesuffix(".json"))):
                state["pool"] = None  # its counts stay; its pool is gone
            states.append(state)
        return states, unreadable


MAX_STATE_BYTES = 2**20  # a state is a few kilobytes: its histograms have a few hundred numbers


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pool_families(now: dict[str, float]) -> Iterator[Metric]:
    yield GaugeMetricFamily("cnn_pool_workers", "Worker processes in the pool", now["workers"])
    yield GaugeMetricFamily("cnn_pool_busy_workers", "Worker processes running a job now", now["busy"])
    yield GaugeMetricFamily("cnn_pool_waiting_requests", "Requests waiting for a worker process", now["waiting"])
    yield GaugeMetricFamily("cnn_training_requests", "/train requests running or waiting", now["training"])
    yield CounterMetricFamily(
        "cnn_pool_replaced_workers", "Worker processes that died or were killed, and were replaced", now["replaced"]
    )
