"""Audit-log benchmark: a cached read with the audit log on vs off (it must cost the same), and
what the log adds to a write. One run; prints ratios measured in the same process.

    .venv/bin/python benchmarks/bench_audit.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from _timing import best


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    os.environ["MCP_SECRETS_STATE_DIR"] = str(tmp / "state")
    os.environ["MCP_SECRETS_AUDIT_FILE"] = str(tmp / "audit.jsonl")
    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.storage import MCPSecretsStorage

    results: dict[str, float] = {}
    storages = {}
    for mode in ("off", "on"):
        os.environ["MCP_SECRETS_AUDIT"] = "true" if mode == "on" else "false"
        storage = MCPSecretsStorage(f"bench-{mode}", MemoryBackend())
        storage.store_secret("api_key", "sk-bench-value")
        storage.retrieve_secret("api_key")
        storages[mode] = storage
    # Interleaved rounds, best of each: the machine is shared, so noise hits both sides alike.
    for _ in range(9):
        for mode, storage in storages.items():
            os.environ["MCP_SECRETS_AUDIT"] = "true" if mode == "on" else "false"
            key = f"cached read, audit {mode}"
            t = best(lambda s=storage: s.retrieve_secret("api_key"), 100_000, repeat=1)
            results[key] = min(results.get(key, t), t)
    for mode, storage in storages.items():
        os.environ["MCP_SECRETS_AUDIT"] = "true" if mode == "on" else "false"
        counter = iter(range(10**9))
        results[f"write, audit {mode}"] = best(
            lambda s=storage, c=counter: s.store_secret(f"k{next(c) % 50}", "v"), 200, repeat=5)
    d = {"api_key": "sk-bench-value"}
    results["dict.get (reference)"] = best(lambda: d.get("api_key"), 200_000)
    for label, seconds in results.items():
        print(f"{label:<26} {seconds * 1e9:10.0f} ns")
    on, off = results["cached read, audit on"], results["cached read, audit off"]
    print(f"cached read audit on / off: {on / off:.2f}x")
    w_on, w_off = results["write, audit on"], results["write, audit off"]
    print(f"write audit on / off:       {w_on / w_off:.2f}x "
          f"(+{(w_on - w_off) * 1e6:.0f} us per write)")
    lines = sum(1 for _ in open(tmp / "audit.jsonl", "rb"))  # noqa: SIM115
    print(f"audit lines written: {lines}")


if __name__ == "__main__":
    main()
