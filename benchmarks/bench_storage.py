"""Storage benchmark: prints ratios measured in one run, on a private real gnome-keyring.

    .venv/bin/python benchmarks/bench_storage.py

Targets (issue 2): cached read <= 3x dict.get; uncached read >= 5x faster than raw
keyring.get_password; list_secrets at 1000 secrets ~1x at 10; import <= 1.2x keyring's.
"""

from __future__ import annotations

import subprocess
import sys

from _timing import REPO, best, keychain, median_time


def import_time(code: str, runs: int = 15) -> float:
    return median_time(lambda: subprocess.run([sys.executable, "-c", code], check=True,
                                              cwd=REPO), runs)


def main() -> None:
    with keychain():
        run()


def run() -> None:
    import keyring

    from mcp_secrets.backends.secret_service import SecretServiceBackend
    from mcp_secrets.storage import MCPSecretsStorage

    storage = MCPSecretsStorage("bench", backend=SecretServiceBackend())
    storage.store_secret("api_key", "sk-bench-value")

    d = {"api_key": "sk-bench-value"}
    storage.retrieve_secret("api_key")
    t_dict = best("d.get('api_key')", 1_000_000, glb={"d": d})
    t_cached = best("s.retrieve_secret('api_key')", 1_000_000, glb={"s": storage})
    print(f"cached retrieve_secret vs dict.get: {t_cached / t_dict:.2f}x "
          f"({t_cached * 1e9:.0f} ns vs {t_dict * 1e9:.0f} ns; target <= 3x)")

    def uncached() -> None:
        storage._cgen = -1  # forget the cache: every call reads the Secret Service
        storage.retrieve_secret("api_key")

    kr = keyring.get_keyring()
    t_uncached = best("f()", 200, repeat=5, glb={"f": uncached})
    t_keyring = best("g('com.mcp.bench', 'api_key')", 30, repeat=3, glb={"g": kr.get_password})
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

    t10 = best("f(s)", 100, repeat=5, glb={"f": listing, "s": small})
    t1000 = best("f(s)", 100, repeat=5, glb={"f": listing, "s": large})
    print(f"uncached list_secrets at 1000 vs 10 secrets: {t1000 / t10:.2f}x "
          f"({t1000 * 1e3:.2f} ms vs {t10 * 1e3:.2f} ms; target ~1x)")
    t10c = best("s.list_secrets()", 100_000, glb={"s": small})
    t1000c = best("s.list_secrets()", 10_000, glb={"s": large})
    print(f"cached list_secrets at 1000 vs 10 secrets: {t1000c / t10c:.2f}x "
          f"({t1000c * 1e6:.1f} us vs {t10c * 1e6:.2f} us; a copy of the list)")

    class FileLocked(SecretServiceBackend):
        def write_lock(self, service: str, timeout: float) -> None:
            return None  # a file lock in the coordination dir instead of the D-Bus name

    bus = MCPSecretsStorage("bench-bus-lock", backend=SecretServiceBackend())
    flock = MCPSecretsStorage("bench-file-lock", backend=FileLocked())
    t_bus = best("s.store_secret('k', 'v')", 100, repeat=5, glb={"s": bus})
    t_flock = best("s.store_secret('k', 'v')", 100, repeat=5, glb={"s": flock})
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
