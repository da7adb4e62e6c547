"""Storage benchmark: prints ratios measured in one run, on a private real gnome-keyring.

    .venv/bin/python benchmarks/bench_storage.py

Targets (issue 2): cached read <= 3x dict.get; uncached read >= 5x faster than raw
keyring.get_password; list_secrets at 1000 secrets ~1x at 10; import <= 1.2x keyring's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best(stmt: str, glb: dict[str, object], number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(stmt, globals=glb, number=number, repeat=repeat)) / number


def import_time(code: str, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    from tests import rig

    home = rig.private_home()
    os.environ.update(home)
    os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
    comp = rig.start_secret_service(home)
    os.environ.update(comp.env)
    try:
        run()
    finally:
        comp.stop()


def run() -> None:
    import keyring

    from mcp_secrets.backends.secret_service import SecretServiceBackend
    from mcp_secrets.storage import MCPSecretsStorage

    storage = MCPSecretsStorage("bench", backend=SecretServiceBackend())
    storage.store_secret("api_key", "sk-bench-value")

    d = {"api_key": "sk-bench-value"}
    storage.retrieve_secret("api_key")
    t_dict = best("d.get('api_key')", {"d": d}, 1_000_000)
    t_cached = best("s.retrieve_secret('api_key')", {"s": storage}, 1_000_000)
    print(f"cached retrieve_secret vs dict.get: {t_cached / t_dict:.2f}x "
          f"({t_cached * 1e9:.0f} ns vs {t_dict * 1e9:.0f} ns; target <= 3x)")

    def uncached() -> None:
        storage._cgen = -1  # forget the cache: every call reads the Secret Service
        storage.retrieve_secret("api_key")

    kr = keyring.get_keyring()
    t_uncached = best("f()", {"f": uncached}, 200, repeat=5)
    t_keyring = best("g('com.mcp.bench', 'api_key')", {"g": kr.get_password}, 30, repeat=3)
    print(f"uncached retrieve_secret vs keyring.get_password: {t_keyring / t_uncached:.1f}x faster "
          f"({t_uncached * 1e3:.2f} ms vs {t_keyring * 1e3:.2f} ms; target >= 5x)")

    small = MCPSecretsStorage("bench-10", backend=SecretServiceBackend())
    large = MCPSecretsStorage("bench-1000", backend=SecretServiceBackend())
    for i in range(10):
        small.store_secret(f"s{i}", "v")
    for i in range(1000):
        large.store_secret(f"secret_number_{i}", "v")

    def listing(s: MCPSecretsStorage) -> None:
        s._cgen = -1  # uncached: one backend read of the index
        s.list_secrets()

    t10 = best("f(s)", {"f": listing, "s": small}, 100, repeat=5)
    t1000 = best("f(s)", {"f": listing, "s": large}, 100, repeat=5)
    print(f"uncached list_secrets at 1000 vs 10 secrets: {t1000 / t10:.2f}x "
          f"({t1000 * 1e3:.2f} ms vs {t10 * 1e3:.2f} ms; target ~1x)")
    t10c = best("s.list_secrets()", {"s": small}, 100_000)
    t1000c = best("s.list_secrets()", {"s": large}, 10_000)
    print(f"cached list_secrets at 1000 vs 10 secrets: {t1000c / t10c:.2f}x "
          f"({t1000c * 1e6:.1f} us vs {t10c * 1e6:.2f} us; a copy of the list)")

    class FileLocked(SecretServiceBackend):
        def write_lock(self, service: str, timeout: float) -> None:
            return None  # a file lock in the coordination dir instead of the D-Bus name

    bus = MCPSecretsStorage("bench-bus-lock", backend=SecretServiceBackend())
    flock = MCPSecretsStorage("bench-file-lock", backend=FileLocked())
    t_bus = best("s.store_secret('k', 'v')", {"s": bus}, 100, repeat=5)
    t_flock = best("s.store_secret('k', 'v')", {"s": flock}, 100, repeat=5)
    print(f"store_secret with the D-Bus name lock vs a file lock: {t_bus / t_flock:.2f}x "
          f"({t_bus * 1e3:.2f} ms vs {t_flock * 1e3:.2f} ms; the price of one lock per store "
          "whatever the state dir)")
    for s in (bus, flock):
        s.clear_secrets()

    ours = import_time("import mcp_secrets; from mcp_secrets import secrets_manager")
    theirs = import_time("import keyring")
    print(f"import mcp_secrets + secrets_manager vs import keyring: {ours / theirs:.2f}x "
          f"({ours * 1e3:.0f} ms vs {theirs * 1e3:.0f} ms, medians of 15; target <= 1.2x)")
    for s in (storage, small, large):
        s.clear_secrets()


if __name__ == "__main__":
    main()
