"""What the benchmarks share: their timing loops, and the private real components they run on.

Every figure a benchmark prints is a median or a best-of measured in the same run as the thing
it is compared with, interleaved where the two can take turns, so a noisy neighbour on a shared
machine slows both alike. `load()` says how busy the machine was.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.rig`, `tests.servers`, and the checkout's package

Stmt = str | Callable[[], object]


def load() -> str:
    """The machine's load, for the line above a table of figures."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def elapsed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], runs: int) -> float:
    """The median of `runs` timed calls of `fn`, in seconds."""
    return statistics.median(elapsed(fn) for _ in range(runs))


def best(stmt: Stmt, number: int, repeat: int = 7,
         glb: dict[str, object] | None = None) -> float:
    """Seconds per call: the fastest of `repeat` rounds of `number` calls (timeit's advice for
    small, CPU-bound statements; the slower rounds measured the neighbours)."""
    return min(timeit.repeat(stmt, globals=glb, number=number, repeat=repeat)) / number


def best_of(stmts: Mapping[str, tuple[Stmt, dict[str, object]]], number: int = 200_000,
            repeat: int = 25) -> dict[str, float]:
    """`best` of each statement, the rounds interleaved so that noise hits all of them alike."""
    timers = {k: timeit.Timer(stmt, globals=glb) for k, (stmt, glb) in stmts.items()}
    out = {k: float("inf") for k in stmts}
    for _ in range(repeat):
        for k, timer in timers.items():
            out[k] = min(out[k], timer.timeit(number) / number)
    return out


async def interleaved(clients: Mapping[str, Any], call: Callable[[Any], Awaitable[object]],
                      rounds: int, warmup: int = 20) -> dict[str, list[float]]:
    """Seconds per `call(client)`, the clients taking turns (connected already): a burst of load
    slows every client alike instead of whichever happened to run then. The first `warmup`
    rounds are not counted."""
    samples: dict[str, list[float]] = {name: [] for name in clients}
    for round_ in range(warmup + rounds):
        for name, client in clients.items():
            t0 = time.perf_counter()
            await call(client)
            if round_ >= warmup:
                samples[name].append(time.perf_counter() - t0)
    return samples


@contextlib.contextmanager
def keychain() -> Iterator[None]:
    """A private HOME with a real gnome-keyring on its own D-Bus (the test rig's), for this
    process and its children; stopped afterwards."""
    from tests import rig

    home = rig.private_home()
    os.environ.update(home)
    os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
    comp = rig.start_secret_service(home)
    os.environ.update(comp.env)
    try:
        yield
    finally:
        comp.stop()


@contextlib.contextmanager
def display(private: bool = False) -> Iterator[str]:
    """An X display: the rig's Xvfb when `private` or when DISPLAY is unset, else DISPLAY."""
    xvfb = None
    if private or not os.environ.get("DISPLAY"):
        from tests import rig

        xvfb = rig.start_xvfb()
        os.environ.update(xvfb.env)
    try:
        yield os.environ["DISPLAY"]
    finally:
        if xvfb is not None:
            xvfb.stop()


def until_mapped(title: str, proc: subprocess.Popen[bytes], start: float) -> float:
    """Seconds from `start` until a visible window named `title` exists. `xdotool --sync` polls
    every 0.5 s; this polls as fast as xdotool answers, so the figure is the window's."""
    while True:
        r = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title],
                           capture_output=True, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            return time.perf_counter() - start
        if proc.poll() is not None or time.perf_counter() - start > 30:
            raise RuntimeError(f"no window named {title!r} was mapped")
