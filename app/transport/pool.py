"""A few worker processes for the work the event loop must not do.

Decoding an upload, parsing a large body, normalising drawings, backpropagation: each runs in a
worker process that

- may spend at most `job_cpu_seconds` of CPU on one job: an interval timer on the process's CPU
  time (ITIMER_PROF) ends it with SIGPROF at that moment, even deep inside a C decoder;
- may map at most `worker_memory_bytes` more than it held when it started (RLIMIT_AS), so a
  decompression trick meets a MemoryError (a 503), not the machine's memory;
- is killed when its client hangs up, or when the job outlives `job_wall_seconds`;
- is replaced when it dies, while the others go on serving.

Admission is bounded: a job that finds every worker busy and `max_waiting` jobs already waiting is
refused at once (Busy, a 503 with Retry-After) instead of joining a queue that only grows.

Workers are forked from a fork server that has already imported the service, so a replacement is
ready in tens of milliseconds; pydantic and NumPy hold the GIL while they work, so threads would
not keep the event loop free, and processes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any

from app.config import Settings

from .errors import Busy, TooCostly, WorkerLost, failure
from .jobs import Answer, Job

log = logging.getLogger("uvicorn.error")

READY = "ready"
# What a worker answers with, made once in the worker from the settings: a function of a module's top
# (pickled by name, its module preloaded by the fork server), app/registry.py's `worker`.
Serving = Callable[[Settings], Callable[[Job], Answer]]
WORKER_NICENESS = 10  # workers yield the CPU to the server's event loop


def _serve(conn: Connection, settings: Settings, serving: Serving) -> None:
    """A worker's life: load the network, then answer jobs one at a time until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle, not ours
    os.nice(WORKER_NICENESS)  # the event loop (health checks, small /predicts) goes first
    signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the CPU budget's end ends the process
    answer = serving(settings)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _mapped_bytes() + settings.worker_memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    conn.send(READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        signal.setitimer(signal.ITIMER_PROF, settings.job_cpu_seconds)
        try:
            result = answer(job)
        except MemoryError as e:
            result = failure(e)
        signal.setitimer(signal.ITIMER_PROF, 0)
        try:
            conn.send(result)
        except MemoryError as e:
            conn.send(failure(e))


def _mapped_bytes() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _context(preload: str) -> Any:
    """The fork server, started once per process with the service (`preload`) imported and BLAS on one
    thread (a job is small; a worker's share of the machine is one core)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    with _environment(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1"):
        forkserver.ensure_running()
    return context


class Worker:
    """One worker process and the pipe to it. Its methods block: they run on the pool's threads."""

    def __init__(self, settings: Settings, serving: Serving) -> None:
        context = _context(serving.__module__)
        self.conn, child = context.Pipe()
        args = (child, settings, serving)
        self.process = context.Process(target=_serve, args=args, daemon=True, name="cnn-worker")
        self.process.start()
        child.close()
        if not self.conn.poll(30) or self.conn.recv() != READY:
            self.kill()
            raise RuntimeError("a worker process did not start")

    def call(self, job: Job, wall_seconds: float) -> Answer:
        """The job's answer; TooCostly or WorkerLost when the process died on the way (it is then dead)."""
        try:
            self.conn.send(job)
            if self.conn.poll(wall_seconds):
                return self.conn.recv()
            self.kill()
            raise WorkerLost("the job took too long")
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(5)
            if self.process.exitcode == -signal.SIGPROF:
                raise TooCostly("this input needs more work than one request may take") from None
            raise WorkerLost(f"the worker stopped (exit code {self.process.exitcode})") from None

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
        self.conn.close()
        self.process.join(5)


class WorkerPool:
    """`size` workers, each running one job at a time, and at most `max_waiting` jobs waiting for one."""

    def __init__(self, settings: Settings, serving: Serving) -> None:
        self.settings, self.serving = settings, serving
        self.size = settings.pool_workers
        self.max_waiting = settings.pool_waiting
        self.threads = ThreadPoolExecutor(self.size + 2, thread_name_prefix="cnn-pool")
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.waiting = 0
        self.replaced = 0  # workers that died (or were killed) and were started anew
        self.closed = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(
            *(loop.run_in_executor(self.threads, Worker, self.settings, self.serving) for _ in range(self.size))
        )
        for worker in workers:
            self.idle.put_nowait(worker)

    def close(self) -> None:
        self.closed = True
        while not self.idle.empty():
            self.idle.get_nowait().kill()
        self.threads.shutdown(wait=False, cancel_futures=True)

    async def run(self, job: Job, client_gone: asyncio.Future[Any] | None = None) -> Answer:
        """The job's answer from a worker. Busy at once where the wait would pass the bound; when
        `client_gone` completes first, the worker is killed and the client gets nothing."""
        if self.idle.empty() and self.waiting >= self.max_waiting:
            raise Busy(f"{self.size} workers busy and {self.waiting} requests waiting")
        self.waiting += 1
        try:
            worker = await self.idle.get()
        finally:
            self.waiting -= 1
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self.threads, worker.call, job, self.settings.job_wall_seconds)
        try:
            if client_gone is None:
                return await asyncio.shield(call)
            await asyncio.wait({call, client_gone}, return_when=asyncio.FIRST_COMPLETED)
            if not call.done():  # the client hung up: its work stops now
                worker.kill()
            return await call
        except asyncio.CancelledError:  # the server is stopping, or the request task was cancelled
            worker.kill()
            raise
        finally:
            self._give_back(worker)

    def _give_back(self, worker: Worker) -> None:
        if worker.alive() or self.closed:
            if not self.closed:
                self.idle.put_nowait(worker)
            else:
                worker.kill()
            return
        self.replaced += 1
        loop = asyncio.get_running_loop()

        def replace() -> Worker:
            worker.kill()
            return Worker(self.settings, self.serving)

        def put(future: asyncio.Future[Worker]) -> None:
            if future.exception() is not None:
                log.error("could not replace a worker process", exc_info=future.exception())
                return
            if self.closed:
                future.result().kill()
            else:
                self.idle.put_nowait(future.result())

        asyncio.ensure_future(loop.run_in_executor(self.threads, replace)).add_done_callback(put)
