"""Team-store references: `resolve_all` with 10 `vault://` references against 10 sequential
`bao kv get` calls, on a real OpenBao dev server on 127.0.0.1. One run; ratios printed.

    .venv/bin/python benchmarks/bench_team.py

`mcp-secrets run` resolves its references with one `resolve_all` call, so "process start +
resolve_all" is what `run` pays before starting the child (if `run` is available, it is timed
too).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _timing import median_time

N = 10


LATENCY_S = 0.025


def delaying_proxy(target_port: int) -> int:
    """A TCP proxy on 127.0.0.1 that holds each server reply for LATENCY_S: a stand-in for a
    Vault across a network, where concurrency pays (on loopback each read is ~CPU only)."""

    def pipe(src: socket.socket, dst: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            upstream = socket.create_connection(("127.0.0.1", target_port))
            threading.Thread(target=pipe, args=(client, upstream, 0), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client, LATENCY_S),
                             daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])


def main() -> None:
    from tests.team_servers import bao_binary, running_bao

    with running_bao() as bao:
        os.environ.update(bao.env)
        import hvac

        client = hvac.Client(url=bao.addr, token="root")
        for i in range(N):
            client.secrets.kv.v2.create_or_update_secret(
                path=f"bench/s{i}", secret={"key": f"value-{i}"}, mount_point="secret")
        refs = {f"V{i}": f"vault://secret/bench/s{i}#key" for i in range(N)}

        from mcp_secrets.refs import resolve_all

        assert resolve_all(refs)["V3"] == "value-3"
        results: dict[str, float] = {}
        results["resolve_all, 10 refs (in process)"] = median_time(
            lambda: resolve_all(refs), 15)

        def sequential_hvac_at(addr: str) -> Callable[[], None]:
            def run() -> None:
                c = hvac.Client(url=addr, token="root")
                for i in range(N):
                    c.secrets.kv.v2.read_secret_version(
                        path=f"bench/s{i}", mount_point="secret", raise_on_deleted_version=True)
            return run

        sequential_hvac = sequential_hvac_at(bao.addr)

        results["10 sequential hvac reads (in process)"] = median_time(sequential_hvac, 15)
        port = delaying_proxy(int(bao.addr.rsplit(":", 1)[1]))
        os.environ["VAULT_ADDR"] = f"http://127.0.0.1:{port}"
        slow_seq = median_time(sequential_hvac_at(f"http://127.0.0.1:{port}"), 5)
        slow_all = median_time(lambda: resolve_all(refs), 5)
        os.environ["VAULT_ADDR"] = bao.addr
        code = ("from mcp_secrets.refs import resolve_all\n"
                f"resolve_all({refs!r})\n")
        results["process start + resolve_all"] = median_time(
            lambda: subprocess.run([sys.executable, "-c", code], check=True), 7)
        mcp = shutil.which("mcp-secrets", path=str(Path(sys.executable).parent))
        has_run = mcp and subprocess.run([mcp, "run", "--help"], capture_output=True
                                         ).returncode == 0
        if has_run:
            args = [a for k, v in refs.items() for a in ("--env", f"{k}={v}")]
            results["mcp-secrets run (10 refs) -- true"] = median_time(
                lambda: subprocess.run([str(mcp), "run", *args, "--", "true"], check=True), 7)
        bao_cli = bao_binary()

        def sequential_bao() -> None:
            for i in range(N):
                subprocess.run([bao_cli, "kv", "get", "-field=key", f"secret/bench/s{i}"],
                               check=True, capture_output=True)

        results["10 sequential `bao kv get`"] = median_time(sequential_bao, 5)
    for label, seconds in results.items():
        print(f"{label:<40} {seconds * 1000:8.1f} ms")
    base = results["10 sequential `bao kv get`"]
    for label, seconds in results.items():
        if label != "10 sequential `bao kv get`":
            print(f"10x bao kv get / {label}: {base / seconds:.1f}x")
    seq, one = (results["10 sequential hvac reads (in process)"],
                results["resolve_all, 10 refs (in process)"])
    print(f"loopback: 10 sequential hvac reads / resolve_all: {seq / one:.1f}x")
    print(f"with {LATENCY_S * 1000:.0f} ms latency: resolve_all {slow_all * 1000:.0f} ms, "
          f"10 sequential hvac reads {slow_seq * 1000:.0f} ms -> {slow_seq / slow_all:.1f}x; "
          f"resolve_all = {slow_all / LATENCY_S:.1f} round trips")


if __name__ == "__main__":
    main()
