"""Several processes writing at once, and writers SIGKILLed mid-write, on the real Secret Service.

The invariant under test: index ⊇ stored names at every moment; after repair(), index == stored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mcp_secrets import selection
from mcp_secrets import storage as storage_module
from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
from mcp_secrets.backends.memory import MemoryBackend
from mcp_secrets.backends.secret_service import SecretServiceBackend
from mcp_secrets.storage import CHUNK_PREFIX, INDEX_KEY, MCPSecretsStorage
from tests.helpers_backends import LimitedSecretService, wait_child

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.keychain
PROCESSES, WRITES = 8, 50

WRITER = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from mcp_secrets.backends.secret_service import SecretServiceBackend
server, proc, writes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = MCPSecretsStorage(server, backend=SecretServiceBackend())
sys.stdin.readline()  # start together
for i in range(writes):
    s.store_secret(f"p{proc}-n{i}", f"value-{proc}-{i}")
    s.store_secret("shared", f"from-{proc}-{i}")  # everyone also fights over one name
    if i % 10 == 9:
        s.delete_secret(f"p{proc}-n{i - 1}")
"""


def stored_names(storage: MCPSecretsStorage) -> set[str]:
    keys = storage.backend.keys(storage.service)
    assert keys is not None
    return {k for k in keys if not k.startswith("__")}


def index_names(server: str) -> set[str]:
    return set(MCPSecretsStorage(server, backend=SecretServiceBackend()).list_secrets())


def test_concurrent_writers_lose_nothing(server_name: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, server_name, str(p), str(WRITES)],
                         cwd=REPO, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(PROCESSES)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    storage = MCPSecretsStorage(server_name, backend=SecretServiceBackend())
    expected = {"shared"} | {
        f"p{p}-n{i}" for p in range(PROCESSES) for i in range(WRITES)
        if i % 10 != 8  # deleted ones
    }
    assert index_names(server_name) == expected
    assert stored_names(storage) == expected
    for p in range(PROCESSES):
        for i in range(0, WRITES, 7):
            if i % 10 != 8:
                assert storage.retrieve_secret(f"p{p}-n{i}") == f"value-{p}-{i}"
    assert (storage.retrieve_secret("shared") or "").startswith("from-")


LOOP = """
import sys, itertools
from mcp_secrets.storage import MCPSecretsStorage
from mcp_secrets.backends.secret_service import SecretServiceBackend
s = MCPSecretsStorage(sys.argv[1], backend=SecretServiceBackend())
s.store_secret("warm", "up")
for i in itertools.count():
    s.store_secret(f"k{i % 7}-{i}", "x" * (i % 50))
    if i == 0:
        print("wrote", flush=True)  # the round has begun, however loaded the machine is
    if i % 3 == 0:
        s.delete_secret(f"k{(i - 3) % 7}-{i - 3}")
"""


def test_writer_killed_at_random_points_keeps_index_a_superset(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name, backend=SecretServiceBackend())
    for delay in (0.05, 0.13, 0.21, 0.34, 0.55, 0.8):
        proc = subprocess.Popen([sys.executable, "-c", LOOP, server_name], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "wrote"
        time.sleep(delay)  # not a wait: lands the kill inside some later write, varying per round
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored = stored_names(storage)
        assert stored - {"warm"}  # the loop wrote (and confirmed it) before the kill
        assert index_names(server_name) >= stored
    report = storage.repair()
    assert report["unindexed_added"] == 0  # the invariant held throughout
    assert index_names(server_name) == stored_names(storage)


def run_killed(code: str, server: str) -> None:
    proc = subprocess.run([sys.executable, "-c", code, server], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


KILL_AFTER_INDEX = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from tests.helpers_backends import KillingSecretService
s = MCPSecretsStorage(sys.argv[1], backend=KillingSecretService(prefix="victim"))
s.store_secret("victim", "never-written")  # killed after the index write, before this value
"""

KILL_AFTER_VALUE_DELETE = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from tests.helpers_backends import KillingOnDeleteSecretService
s = MCPSecretsStorage(sys.argv[1], backend=KillingOnDeleteSecretService(prefix="keep"))
s.delete_secret("keep")  # killed after the value is deleted, before the index is rewritten
"""


def test_kill_between_index_and_value_leaves_only_a_ghost_that_heals(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name, backend=SecretServiceBackend())
    storage.store_secret("keep", "kept")
    run_killed(KILL_AFTER_INDEX, server_name)
    assert index_names(server_name) == {"keep", "victim"}  # a ghost: indexed, not stored
    assert stored_names(storage) == {"keep"}
    assert storage.retrieve_secret("victim") is None
    storage.store_secret("other", "o")  # the next write checks the pending name and drops it
    assert index_names(server_name) == {"keep", "other"}

    run_killed(KILL_AFTER_VALUE_DELETE, server_name)
    assert index_names(server_name) == {"keep", "other"}  # ghost "keep" again
    assert stored_names(storage) == {"other"}
    report = storage.repair()
    assert report["ghosts_removed"] == 1
    assert index_names(server_name) == stored_names(storage) == {"other"}


KILL_MID_CHUNKS = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from tests.helpers_backends import KillingLimitedSecretService
s = MCPSecretsStorage(sys.argv[1], backend=KillingLimitedSecretService(prefix="__chunk__big",
                                                                       nth=4, before=False))
s.store_secret("big", "new-value-" * 200)
"""


def test_killed_chunked_write_keeps_the_old_value(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name, backend=LimitedSecretService())
    old = "old-value-" * 200
    storage.store_secret("big", old)
    old_chunks = {k for k in storage.backend.keys(storage.service) or []
                  if k.startswith(CHUNK_PREFIX)}
    run_killed(KILL_MID_CHUNKS, server_name)
    reader = MCPSecretsStorage(server_name, backend=LimitedSecretService())
    assert reader.retrieve_secret("big") == old
    report = reader.repair()
    assert report["orphan_chunks_removed"] == 4
    chunks = {k for k in reader.backend.keys(reader.service) or [] if k.startswith(CHUNK_PREFIX)}
    index_chunks = {k for k in chunks if k.startswith(CHUNK_PREFIX + INDEX_KEY)}
    assert chunks - index_chunks == {k for k in old_chunks if "__big__" in k}
    assert reader.retrieve_secret("big") == old


REWRITE = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from tests.helpers_backends import LimitedSecretService, wait_child
MCPSecretsStorage(sys.argv[1], backend=LimitedSecretService()).store_secret("big", sys.argv[2])
"""


class _RewriteMidRead(LimitedSecretService):
    """The real Secret Service; the first time a chunk is read, another PROCESS rewrites the
    value completely (new chunks, new marker, old chunks deleted) before the read goes on —
    the interleaving an unlocked reader meets when a writer is fast."""

    def __init__(self, server: str, new: str) -> None:
        super().__init__()
        self.server, self.new, self.fired = server, new, False

    def get(self, service: str, key: str) -> str | None:
        if key.startswith(CHUNK_PREFIX) and not self.fired:
            self.fired = True
            proc = subprocess.run([sys.executable, "-c", REWRITE, self.server, self.new],
                                  cwd=REPO, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0, proc.stderr
        return super().get(service, key)


def test_read_racing_a_chunked_rewrite_is_not_reported_as_corruption(server_name: str) -> None:
    old, new = "old-value-" * 200, "new-value-" * 200
    MCPSecretsStorage(server_name, backend=LimitedSecretService()).store_secret("big", old)
    backend = _RewriteMidRead(server_name, new)
    reader = MCPSecretsStorage(server_name, backend=backend)
    assert reader.retrieve_secret("big") == new
    assert backend.fired
    # The index is chunked the same way once it outgrows an entry: listing must not fail either.
    names = [f"a_rather_long_secret_name_{i:02d}" for i in range(12)]
    writer = MCPSecretsStorage(server_name, backend=LimitedSecretService())
    for n in names:
        writer.store_secret(n, "v")
    backend.fired, backend.new = False, "newer"
    lister = MCPSecretsStorage(server_name, backend=backend)
    assert lister.list_secrets() == sorted(["big", *names])
    assert backend.fired


def test_fork_while_another_thread_holds_the_module_locks(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name, backend=MemoryBackend())
    storage.store_secret("k", "parent")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:  # as a thread caching a read, or probing the keychain, at fork time
        with storage_module._cache_lock, selection._lock:
            held.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(60)
    try:
        pid = os.fork()
        if pid == 0:  # the holder thread does not exist here: its lock must not either
            code = 1
            try:
                storage.store_secret("k", "child")
                os.environ["MCP_SECRETS_BACKEND"] = "memory"
                selection.reset()
                fresh = MCPSecretsStorage(server_name + "-new")  # the default store
                fresh.store_secret("x", "y")
                if storage.retrieve_secret("k") == "child" and fresh.list_secrets() == ["x"]:
                    code = 0
            finally:
                os._exit(code)
    finally:
        release.set()
        thread.join()
    assert wait_child(pid) == 0
    assert storage.retrieve_secret("k") == "parent"  # MemoryBackend: the child's copy was its own


def test_fork_while_another_thread_holds_the_bus_write_lock(server_name: str) -> None:
    """The Secret Service's write lock is a D-Bus name owned by the parent's connection: a child
    forked while a parent thread holds it must neither deadlock on the copied thread lock nor
    think it owns the name; it waits for the parent, then writes."""
    storage = MCPSecretsStorage(server_name, backend=SecretServiceBackend())
    storage.store_secret("k", "parent")
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with storage._locked():
            held.set()
            release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    assert held.wait(60)
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                storage.store_secret("k", "child")  # blocks until the parent lets go
                code = 0
            finally:
                os._exit(code)
        time.sleep(0.3)  # not a wait for an outcome: gives the child time to queue up
        assert storage.retrieve_secret("k") == "parent"  # the child has not written yet
    finally:
        release.set()
        thread.join()
    assert wait_child(pid) == 0
    assert MCPSecretsStorage(server_name, backend=SecretServiceBackend()).retrieve_secret(
        "k") == "child"


HAMMER = """
import sys
from mcp_secrets.storage import MCPSecretsStorage
from mcp_secrets.selection import default_backend
server, proc, writes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = MCPSecretsStorage(server, backend=default_backend())
print(s.retrieve_secret("probe"), flush=True)  # cached now, as a long-lived server would
sys.stdin.readline()  # start together
for i in range(writes):
    s.store_secret(f"p{proc}-n{i}", "v")
print(s.retrieve_secret("probe"), flush=True)  # the other writer changed it meanwhile
"""


def _private_state(tmp_path: Path, tag: str) -> dict[str, str]:
    root = tmp_path / tag
    for sub in ("state", "xdg-state", "run"):
        (root / sub).mkdir(parents=True, mode=0o700)
    return {"MCP_SECRETS_STATE_DIR": str(root / "state"), "XDG_STATE_HOME": str(root / "xdg-state"),
            "XDG_RUNTIME_DIR": str(root / "run")}


@pytest.mark.parametrize("store", ["secret-service", "file"])
def test_writers_with_different_state_dirs_share_one_lock(
    server_name: str, tmp_path: Path, store: str,
) -> None:
    """Two processes whose XDG_*/MCP_SECRETS_STATE_DIR differ (desktop apps in sandboxes do)
    used to take different locks for one store: 177 of 300 index entries were lost."""
    writes = 150
    env = {**os.environ, "MCP_SECRETS_BACKEND": store, "MCP_SECRETS_PASSPHRASE": "pw",
           "MCP_SECRETS_DATA_DIR": str(tmp_path / "data")}
    first = MCPSecretsStorage(server_name, backend=_backend(store, tmp_path))
    first.store_secret("probe", "before")
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, server_name, str(p), str(writes)],
                         cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         env={**env, **_private_state(tmp_path, f"proc{p}")})
        for p in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "before"
    first.store_secret("probe", "after")  # with yet another state dir (the test's own)
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out.strip())
    expected = {"probe"} | {f"p{p}-n{i}" for p in range(2) for i in range(writes)}
    fresh = MCPSecretsStorage(server_name, backend=_backend(store, tmp_path))
    lost = expected - set(fresh.list_secrets())
    assert not lost, f"{len(lost)} of {len(expected)} index entries lost"
    keys = fresh.backend.keys(fresh.service)
    assert keys is not None and {k for k in keys if not k.startswith("__")} == expected
    assert outs == ["after", "after"]  # and no stale cache either


def _backend(store: str, tmp_path: Path) -> SecretServiceBackend | EncryptedFileBackend:
    if store == "file":
        return EncryptedFileBackend(tmp_path / "data", passphrase="pw")
    return SecretServiceBackend()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcp_secrets.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _chunks(storage: MCPSecretsStorage) -> set[str]:
    return {k for k in storage.backend.keys(storage.service) or [] if k.startswith(CHUNK_PREFIX)}


def test_damage_is_found_by_doctor_repaired_by_the_cli_and_healed_by_the_next_write(
    server_name: str,
) -> None:
    """Ghosts and orphan chunks left by SIGKILLed writers stayed until someone called
    repair(), which no command did; doctor did not look; a corrupt index said "run doctor"."""
    storage = MCPSecretsStorage(server_name, backend=LimitedSecretService())
    storage.store_secret("keep", "kept")
    storage.store_secret("big", "old-value-" * 200)
    run_killed(KILL_MID_CHUNKS, server_name)  # four chunks of a value that never landed
    index = json.loads(storage.backend.get(storage.service, INDEX_KEY) or "")
    index["names"] = sorted([*index["names"], "ghost"])  # and a name with nothing stored
    storage.backend.set(storage.service, INDEX_KEY, json.dumps(index))

    doctor = _cli("doctor")
    line = next(x for x in doctor.stdout.splitlines() if x.startswith(f"damage:   {server_name}:"))
    assert "1 ghost(s)" in line and "4 orphan chunk(s)" in line
    assert line.endswith(f"run `mcp-secrets repair {server_name}`")
    assert storage.check()["orphan_chunks_removed"] == 4  # doctor changed nothing

    repair = _cli("repair", server_name)
    assert repair.returncode == 0, repair.stderr
    assert repair.stdout.strip() == (f"{server_name}: fixed 1 ghost(s) (listed but not stored), "
                                     "4 orphan chunk(s) of old values (2 secret(s))")
    assert not MCPSecretsStorage.damaged(storage.check())
    assert index_names(server_name) == stored_names(storage) == {"keep", "big"}

    # Damage from a killed writer is healed by the next write, no repair needed.
    run_killed(KILL_MID_CHUNKS, server_name)
    assert storage.check()["orphan_chunks_removed"] == 4
    storage.store_secret("other", "o")
    assert not MCPSecretsStorage.damaged(storage.check())
    assert storage.retrieve_secret("big") == "old-value-" * 200
    run_killed(KILL_AFTER_VALUE_DELETE, server_name)  # a ghost outside the pending mark
    assert storage.check()["ghosts_removed"] == 1
    storage.store_secret("other", "o2")
    assert index_names(server_name) == stored_names(storage) == {"big", "other"}

    # In a loop of random kills too: one write afterwards leaves nothing to repair.
    for delay in (0.05, 0.2, 0.45):
        proc = subprocess.Popen([sys.executable, "-c", LOOP, server_name], cwd=REPO,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "wrote"
        time.sleep(delay)  # not a wait: varies where the kill lands
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    storage.store_secret("after", "a")
    assert not MCPSecretsStorage.damaged(storage.check())

    # A corrupt index names the command that rebuilds it, and `repair` (all servers) does.
    storage.backend.set(storage.service, INDEX_KEY, "{not json")
    listing = _cli("list", server_name)
    assert listing.returncode == 1 and f"mcp-secrets repair {server_name}" in listing.stderr
    everything = _cli("repair")
    assert everything.returncode == 0, everything.stderr
    assert f"{server_name}: fixed an unreadable index" in everything.stdout
    assert "after" in _cli("list", server_name).stdout.split()
