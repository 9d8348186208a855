"""Killable worker processes for reward functions and tools: a slow, crashing or memory-hungry call ends
as a status, never as a hung or dead trainer.

Reward code and tools are user code and symbolic math: they can loop for minutes on `10^10^10`,
segfault inside a C extension or exhaust memory. Each call therefore runs in a separate process with a hard
wall-clock deadline; a worker past its deadline is killed and replaced, never waited on. This is
`signal.alarm`-free on purpose: alarms cannot interrupt C code and only work on the main thread.

Standard library only, so a worker starts in well under a second and never imports torch.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import signal
import sys
import time
import types
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Literal, NamedTuple

Status = Literal["ok", "error", "timeout", "crash"]


class Outcome(NamedTuple):
    """The result of one call: its value (0.0 or "" unless `status == "ok"`) and how it ended."""

    value: float | str
    status: Status
    detail: str = ""


def _worker_main(conn: Connection, memory_limit_mb: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if memory_limit_mb > 0:
        import resource

        limit = memory_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            fn, args, text = conn.recv()
        except EOFError:  # the parent is gone
            return
        try:
            if text:
                conn.send(("ok", str(fn(*args)), ""))
                continue
            value = float(fn(*args))
            # A NaN or infinite reward would make every advantage of its group non-finite.
            conn.send(("ok", value, "") if math.isfinite(value) else ("nonfinite", 0.0, f"returned {value}"))
        except BaseException as error:  # noqa: BLE001 - any failure of user code scores 0
            conn.send(("error", "" if text else 0.0, f"{type(error).__name__}: {error}"[:500]))


class _Worker:
    def __init__(self, context: mp.context.BaseContext, memory_limit_mb: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, memory_limit_mb), daemon=True)
        # A spawned child imports the parent's main module to unpickle its target; a script without
        # an `if __name__ == "__main__"` guard would run again in every worker, and even a guarded
        # one costs the worker a torch import. Workers only need `fn`'s own module, so hide main.
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            self.process.start()
        finally:
            sys.modules["__main__"] = main
        child.close()

    def kill(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.join(timeout=5)
        self.conn.close()


class WorkerPool:
    """Calls a function on items in `workers` processes, each call bounded by `timeout_s`.

    Args:
        workers: number of worker processes.
        timeout_s: wall-clock limit for one call; past it the worker is killed and the item scores 0.
        memory_limit_mb: address-space limit per worker (0 for none).
        text: the function returns text (a tool's answer), kept as `str`; else a finite number (a
            reward), kept as `float`.
    """

    def __init__(
        self, *, workers: int = 2, timeout_s: float = 5.0, memory_limit_mb: int = 4096, text: bool = False
    ) -> None:
        if workers < 1:
            raise ValueError(f"WorkerPool: workers must be >= 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"WorkerPool: timeout_s must be > 0, got {timeout_s}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_limit_mb = memory_limit_mb
        self.text = text
        # spawn, not fork: forking a process that runs torch threads can deadlock the child.
        self._context = mp.get_context("spawn")
        self._idle: list[_Worker] = []

    def _take_worker(self) -> _Worker:
        return self._idle.pop() if self._idle else _Worker(self._context, self.memory_limit_mb)

    def map(self, fn: Callable[..., float], items: Sequence[tuple[Any, ...]]) -> list[Outcome]:
        """Returns `fn(*item)` for every item, in order; failures become `Outcome(0.0 or "", status)`.

        `fn` must be importable by name (a module-level function of a module other than the
        script being run), since workers receive it by reference.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        pending = list(range(len(items)))[::-1]
        running: dict[Connection, tuple[_Worker, int, float]] = {}
        while pending or running:
            while pending and len(running) < self.workers:
                index = pending.pop()
                worker = self._take_worker()
                worker.conn.send((fn, items[index], self.text))
                running[worker.conn] = (worker, index, time.monotonic() + self.timeout_s)
            next_deadline = min(deadline for _, _, deadline in running.values())
            for conn in wait(list(running), timeout=max(0.0, next_deadline - time.monotonic())):
                worker, index, _ = running.pop(conn)
                try:
                    status, value, detail = conn.recv()
                    outcomes[index] = Outcome(value, status, detail)
                    self._idle.append(worker)
                except (EOFError, OSError):
                    code = worker.process.exitcode
                    worker.kill()
                    outcomes[index] = Outcome(self._failed, "crash", f"worker exited with code {code}")
            now = time.monotonic()
            for conn, (worker, index, deadline) in list(running.items()):
                if now >= deadline:
                    del running[conn]
                    worker.kill()
                    outcomes[index] = Outcome(self._failed, "timeout", f"exceeded {self.timeout_s:g} s")
        return outcomes  # type: ignore[return-value]

    @property
    def _failed(self) -> float | str:
        return "" if self.text else 0.0

    def close(self) -> None:
        """Stops every idle worker."""
        for worker in self._idle:
            worker.kill()
        self._idle.clear()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
