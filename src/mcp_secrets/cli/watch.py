"""`mcp-secrets run --watch`: when a referenced value changes, swap in a new server without the
MCP client noticing.

Without --watch, `run` hands the client's stdin straight to the server. With it, `run` sits in
the JSON-RPC stream (one message per line) and remembers the client's ``initialize`` request and
``notifications/initialized``. Every MCP_SECRETS_WATCH_INTERVAL seconds it resolves the
references again; when a value differs it

1. starts a new server with the new environment,
2. replays the remembered handshake to it (handshake era; a 2026-07-28 client sends none, so
   there is nothing to replay) and swallows the reply,
3. sends every *new* request to the new server, while requests already in flight finish on the
   old one (their replies, and replies the client owes the old server, are routed by id),
4. closes the old server's stdin once nothing is in flight there, and reaps it.

The client sees no error and no reconnect. Peers (Doppler, Infisical, Vault Agent, MCPProxy)
kill and restart the server instead, which an MCP client sees as a dropped connection.

Requests the servers make of the client get ids unique per server generation, so two servers'
requests can never be confused. Output is masked with the old and the new values.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp_secrets.cli.errors import report

if TYPE_CHECKING:
    from mcp_secrets.masking import Masker

#: `cli.run.Plan`; not imported, because `run` imports this module (no import circles).
Plan = Any
#: `cli.run._relay`, handed in by `run` for the same reason.
Relay = Callable[[int, int, "Masker"], None]

REPLAY_ID = "mcp-secrets-replay"
HANDSHAKE_TIMEOUT_S = 30.0
RETIRE_TIMEOUT_S = 10.0


def _key(ident: Any) -> str:
    return json.dumps(ident, sort_keys=True)


class _Child:
    """One server generation: its process, and what is still open on it."""

    def __init__(self, gen: int, plan: Plan) -> None:
        self.gen = gen
        self.proc = subprocess.Popen(plan.argv, env=plan.env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
        self.inflight: set[str] = set()  # client request ids (keys) this server owes a reply
        self.owed: set[str] = set()  # ids of this server's requests the client has not answered
        self.retiring = False
        self.retired = False
        self.replayed = threading.Event()
        self.write_lock = threading.Lock()

    def send(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        with self.write_lock, contextlib.suppress(OSError):
            self.proc.stdin.write(line)
            self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        with self.write_lock, contextlib.suppress(OSError):
            self.proc.stdin.close()


class Supervisor:
    """The client's stdin and stdout on one side, one or two server generations on the other."""

    def __init__(self, plan: Plan, masker: Masker, reprepare: Callable[[], Plan],
                 interval: float, relay: Relay) -> None:
        self.relay = relay
        self.plan = plan
        self.masker = masker
        self.reprepare = reprepare
        self.interval = interval
        self.lock = threading.Lock()  # routing state
        self.out_lock = threading.Lock()  # our stdout: one whole line at a time
        self.done = threading.Event()
        self.gens = 0
        self.handshake: list[bytes] = []  # initialize request, then notifications/initialized
        self.owner: dict[str, _Child] = {}  # client request id -> the server handling it
        self.server_ids: dict[str, tuple[_Child, Any]] = {}  # id the client saw -> (server, id)
        self.current = self._start(plan)
        self.status: int | None = None

    # ------------------------------------------------------------------ servers

    def _start(self, plan: Plan) -> _Child:
        child = _Child(self.gens, plan)
        self.gens += 1
        assert child.proc.stderr is not None
        stderr = os.dup(child.proc.stderr.fileno())  # _relay reads and closes a bare fd
        child.proc.stderr.close()
        threading.Thread(target=self.relay, args=(stderr, 2, self.masker), daemon=True).start()
        threading.Thread(target=self._from_server, args=(child,), daemon=True).start()
        return child

    def _from_server(self, child: _Child) -> None:
        """Relay one server's stdout to the client, message by message."""
        assert child.proc.stdout is not None
        for line in iter(child.proc.stdout.readline, b""):
            message = _parse(line)
            if message is not None and "method" not in message and "id" in message:
                if message["id"] == REPLAY_ID:  # the reply to our replayed handshake
                    child.replayed.set()
                    continue
                with self.lock:
                    child.inflight.discard(_key(message["id"]))
                    self.owner.pop(_key(message["id"]), None)
            elif message is not None and "method" in message and "id" in message:
                new_id = message["id"] if child.gen == 0 else f"mcp-secrets-{child.gen}:" \
                    f"{message['id']}"
                with self.lock:
                    self.server_ids[_key(new_id)] = (child, message["id"])
                    child.owed.add(_key(new_id))
                if new_id != message["id"]:
                    line = _dump({**message, "id": new_id})
            self._to_client(self.masker.mask_line(line))
            self._maybe_retire(child)
        child.proc.wait()
        with self.lock:
            ended = child is self.current
        if ended:  # the live server exited on its own: so do we, with its status
            self.status = child.proc.returncode
            self.done.set()

    def _to_client(self, line: bytes) -> None:
        with self.out_lock:
            view = memoryview(line)
            while view:
                view = view[os.write(1, view):]

    def _maybe_retire(self, child: _Child) -> None:
        with self.lock:
            idle = child.retiring and not child.retired and not child.inflight and not child.owed
            if idle:
                child.retired = True
        if idle:
            child.close_stdin()

            def reap() -> None:
                try:
                    child.proc.wait(RETIRE_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    child.proc.terminate()

            threading.Thread(target=reap, daemon=True).start()

    # ------------------------------------------------------------------ the client

    def from_client(self) -> None:
        """Route the client's stdin until EOF, then let the servers finish."""
        stdin = sys.stdin.buffer
        for line in iter(stdin.readline, b""):
            self._route(line)
        with self.lock:
            children = {self.current, *(c for c, _ in self.server_ids.values()),
                        *self.owner.values()}
        for child in children:
            child.close_stdin()

    def _route(self, line: bytes) -> None:
        message = _parse(line)
        with self.lock:
            target = self.current
            if message is None:
                pass
            elif "method" in message and "id" in message:
                self.owner[_key(message["id"])] = target
                target.inflight.add(_key(message["id"]))
                if message["method"] == "initialize":
                    self.handshake = [line]
            elif "method" in message:
                method = message["method"]
                if method == "notifications/initialized" and len(self.handshake) == 1:
                    self.handshake.append(line)
                elif method == "notifications/cancelled":
                    ref = (message.get("params") or {}).get("requestId")
                    target = self.owner.get(_key(ref), target)
            elif "id" in message:  # the client's reply to a server's request
                found = self.server_ids.pop(_key(message["id"]), None)
                if found is not None:
                    target, original = found
                    target.owed.discard(_key(message["id"]))
                    if original != message["id"]:
                        line = _dump({**message, "id": original})
        target.send(line)
        self._maybe_retire(target)

    # ------------------------------------------------------------------ watching

    def watch(self) -> None:
        """Re-resolve every `interval` seconds; swap servers when a value changed."""
        while not self.done.wait(self.interval):
            from mcp_secrets import audit

            try:
                with audit.suppressed():
                    plan = self.reprepare()
            except Exception as exc:  # keep serving with the values we have
                from mcp_secrets.errors import SecretsError

                what = str(exc) if isinstance(exc, SecretsError) else type(exc).__name__
                report(f"--watch: could not re-resolve the references ({what}); "
                       "the server keeps its current values")
                continue
            if plan.values != self.plan.values:
                self._swap(plan)

    def _swap(self, plan: Plan) -> None:
        from mcp_secrets.masking import Masker

        self.masker = Masker([*self.masker.values, *self.masker.unmaskable,
                              *plan.values.values()])
        new = self._start(plan)
        with self.lock:
            handshake = list(self.handshake)
        if handshake:
            first = _parse(handshake[0]) or {}
            new.send(_dump({**first, "id": REPLAY_ID}))
            if not new.replayed.wait(HANDSHAKE_TIMEOUT_S):
                report("--watch: the new server did not answer the replayed handshake; "
                       "keeping the old one")
                new.proc.kill()
                return
            for line in handshake[1:]:
                new.send(line)
        with self.lock:
            old, self.current = self.current, new
            old.retiring = True
        self.plan = plan
        from mcp_secrets import audit

        for label in plan.values:
            audit.record("inject", name=label, outcome=f"new server (generation {new.gen})",
                         store="run --watch")
        report(f"--watch: a referenced value changed; now serving from a new server "
               f"(generation {new.gen}), the old one finishes its requests")
        self._maybe_retire(old)

    def forward_signal(self, signum: int, _frame: object) -> None:
        with self.lock:
            children = [self.current, *self.owner.values()]
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.proc.pid, signum)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _dump(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def supervise_watch(plan: Plan, masker: Masker, reprepare: Callable[[], Plan],
                    relay: Relay) -> int:
    """Run CMD under --watch; returns its exit status (128+N if killed by signal N)."""
    from mcp_secrets import config

    try:
        interval = max(0.05, float(config.WATCH_INTERVAL.get() or "2"))
    except ValueError:
        interval = 2.0
    sup = Supervisor(plan, masker, reprepare, interval, relay)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, sup.forward_signal)
    threading.Thread(target=sup.from_client, daemon=True).start()
    threading.Thread(target=sup.watch, daemon=True).start()
    sup.done.wait()
    status = sup.status if sup.status is not None else 0
    return 128 - status if status < 0 else status

