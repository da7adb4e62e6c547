"""MCPSecretsStorage on the real Secret Service (and a fake size-limited store for chunking)."""

from __future__ import annotations

import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from mcp_secrets.backends.secret_service import SecretServiceBackend
from mcp_secrets.cache import Generation
from mcp_secrets.errors import BackendError, InvalidSecretName, SecretsError, ValueTooLargeError
from mcp_secrets.storage import INDEX_KEY, MARKER_PREFIX, MCPSecretsStorage
from tests.helpers_backends import (
    SMALL_LIMIT,
    CountingBackend,
    FakeLeakyBrokenBackend,
    FakeSmallLimitBackend,
)

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.keychain


@pytest.fixture(scope="module")
def ss() -> SecretServiceBackend:
    return SecretServiceBackend()


@pytest.fixture
def store(server_name: str, ss: SecretServiceBackend) -> MCPSecretsStorage:
    return MCPSecretsStorage(server_name, backend=ss)


def run_py(code: str) -> str:
    """Run `code` in a fresh interpreter (same private bus, HOME and state dir)."""
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


# ------------------------------------------------------------------ basics


def test_every_method_round_trips(store: MCPSecretsStorage, ss: SecretServiceBackend) -> None:
    assert store.service == f"com.mcp.{store.server_name}"
    assert store.list_secrets() == []
    assert store.retrieve_secret("api_key") is None
    assert not store.secret_exists("api_key")
    store.store_secret("api_key", "v1")
    store.store_secret("Other Token", "t")
    assert store.retrieve_secret("api_key") == "v1"
    store.store_secret("api_key", "v2")  # replace
    assert store.retrieve_secret("api_key") == "v2"
    assert store.secret_exists("api_key")
    assert store.list_secrets() == ["Other Token", "api_key"]
    assert ss.get(store.service, "api_key") == "v2"  # really in the keychain
    assert store.delete_secret("api_key") is True
    assert store.delete_secret("api_key") is False
    assert store.retrieve_secret("api_key") is None
    assert store.list_secrets() == ["Other Token"]
    assert store.repair()["secrets"] == 1
    assert store.clear_secrets() == 1
    assert store.list_secrets() == []
    assert ss.keys(store.service) == []  # index and everything else gone too


def test_empty_string_value_is_a_value(store: MCPSecretsStorage) -> None:
    store.store_secret("empty", "")
    assert store.retrieve_secret("empty") == ""
    assert store.secret_exists("empty")


def test_default_backend_is_used_when_none_given(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name)
    storage.store_secret("k", "v")
    assert MCPSecretsStorage(server_name).retrieve_secret("k") == "v"
    storage.clear_secrets()


def test_servers_are_isolated(server_name: str, ss: SecretServiceBackend) -> None:
    a = MCPSecretsStorage(server_name + "-a", backend=ss)
    b = MCPSecretsStorage(server_name + "-ab", backend=ss)  # a prefix of the other's service
    a.store_secret("shared_name", "from-a")
    b.store_secret("only_b", "from-b")
    assert b.retrieve_secret("shared_name") is None
    assert a.list_secrets() == ["shared_name"]
    assert b.list_secrets() == ["only_b"]
    assert b.clear_secrets() == 1
    assert a.retrieve_secret("shared_name") == "from-a"  # b's clear did not touch a
    assert a.list_secrets() == ["shared_name"]
    a.clear_secrets()


def test_persists_across_processes(server_name: str) -> None:
    setup = ("from mcp_secrets.storage import MCPSecretsStorage as S; "
             "from mcp_secrets.backends.secret_service import SecretServiceBackend as B; "
             f"s = S({server_name!r}, backend=B()); ")
    run_py(setup + "s.store_secret('token', 'persisted-value')")
    out = run_py(setup + "print(s.retrieve_secret('token'), s.list_secrets())")
    assert out.strip() == "persisted-value ['token']"


def test_100kb_value_on_real_secret_service(store: MCPSecretsStorage) -> None:
    value = ("0123456789abcdef" * 6400) + "ü€😀"
    assert len(value.encode()) > 100_000
    store.store_secret("big", value)
    fresh = MCPSecretsStorage(store.server_name, backend=SecretServiceBackend())
    assert fresh.retrieve_secret("big") == value


def test_value_that_looks_like_a_chunk_marker_round_trips(store: MCPSecretsStorage) -> None:
    tricky = MARKER_PREFIX + "3:deadbeef:" + "0" * 64
    store.store_secret("tricky", tricky)
    fresh = MCPSecretsStorage(store.server_name, backend=SecretServiceBackend())
    assert fresh.retrieve_secret("tricky") == tricky
    store.store_secret("tricky", "plain again")  # old chunk entries are removed
    assert [k for k in store.backend.keys(store.service) or [] if k.startswith("__chunk")] == []


def test_repr_shows_service_and_backend(store: MCPSecretsStorage) -> None:
    store.store_secret("k", "repr-canary-5b1e")
    text = repr(store)
    assert store.service in text and "SecretService" in text
    assert "repr-canary-5b1e" not in text and "repr-canary-5b1e" not in str(store)


# ---------------------------------------------------------------- bad input

BAD_NAMES = ["", "a/b", "a\\b", "tab\there", "nul\x00", "new\nline", "x" * 129,
             "__reserved", INDEX_KEY, " padded", 42, None, b"bytes"]


@pytest.mark.parametrize("bad", BAD_NAMES, ids=repr)
def test_bad_names_are_refused_and_store_nothing(store: MCPSecretsStorage, bad: object) -> None:
    with pytest.raises(InvalidSecretName):
        store.store_secret(bad, "value")  # type: ignore[arg-type]
    with pytest.raises(InvalidSecretName):
        store.retrieve_secret(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidSecretName):
        store.delete_secret(bad)  # type: ignore[arg-type]
    assert store.list_secrets() == []
    assert store.backend.keys(store.service) == []


def test_128_character_name_is_fine(store: MCPSecretsStorage) -> None:
    store.store_secret("x" * 128, "v")
    assert store.list_secrets() == ["x" * 128]


@pytest.mark.parametrize("bad", [b"bytes", None, 3, {"a": 1}], ids=repr)
def test_non_string_values_are_refused(store: MCPSecretsStorage, bad: object) -> None:
    with pytest.raises(TypeError, match="must be str"):
        store.store_secret("k", bad)  # type: ignore[arg-type]
    assert store.backend.keys(store.service) == []


def test_unencodable_value_is_refused_without_echoing_it(store: MCPSecretsStorage) -> None:
    with pytest.raises(ValueError, match="not valid Unicode") as info:
        store.store_secret("k", "canary-\udc80-canary")
    assert "canary" not in str(info.value)
    assert store.backend.keys(store.service) == []


def test_absurdly_large_value_is_refused(server_name: str) -> None:
    storage = MCPSecretsStorage(server_name, backend=FakeSmallLimitBackend())
    with pytest.raises(ValueTooLargeError):
        storage.store_secret("k", "x" * (2 << 20))
    assert storage.list_secrets() == []


# ---------------------------------------------------------------- chunking


def test_chunking_on_a_small_limit_store(server_name: str) -> None:
    backend = FakeSmallLimitBackend()
    storage = MCPSecretsStorage(server_name, backend=backend)
    value = "secret-😀-ü-" * 500  # astral characters: 4 bytes of UTF-16 each
    storage.store_secret("big", value)
    assert backend.largest <= SMALL_LIMIT
    chunks = [k for k in backend.keys(storage.service) if k.startswith("__chunk__big")]
    assert len(chunks) > 30
    fresh = MCPSecretsStorage(server_name, backend=backend)
    assert fresh.retrieve_secret("big") == value
    storage.store_secret("big", "small now")  # the old chunks are deleted
    assert [k for k in backend.keys(storage.service) if k.startswith("__chunk__")] == []
    assert storage.retrieve_secret("big") == "small now"


def test_marker_lookalike_and_large_index_on_small_limit_store(server_name: str) -> None:
    backend = FakeSmallLimitBackend()
    storage = MCPSecretsStorage(server_name, backend=backend)
    names = [f"credential_number_{i:03d}_with_a_long_name" for i in range(40)]
    for n in names:
        storage.store_secret(n, MARKER_PREFIX + n)
    assert len(backend.get(storage.service, INDEX_KEY) or "") < SMALL_LIMIT  # index is chunked
    fresh = MCPSecretsStorage(server_name, backend=backend)
    assert fresh.list_secrets() == sorted(names)
    assert all(fresh.retrieve_secret(n) == MARKER_PREFIX + n for n in names)


@pytest.mark.parametrize("damage", ["tamper", "drop"])
def test_corrupted_chunks_are_detected_not_returned(server_name: str, damage: str) -> None:
    backend = FakeSmallLimitBackend()
    storage = MCPSecretsStorage(server_name, backend=backend)
    canary = "CANARY-chunked-7f3a" * 40
    storage.store_secret("big", canary)
    chunk = sorted(k for k in backend.keys(storage.service) if k.startswith("__chunk__big"))[1]
    if damage == "tamper":
        backend.set(storage.service, chunk, "X" * 10)
    else:
        backend.delete(storage.service, chunk)
    reader = MCPSecretsStorage(server_name, backend=backend)
    with pytest.raises(BackendError, match="corrupted") as info:
        reader.retrieve_secret("big")
    text = "".join(traceback.format_exception(info.value))
    assert "CANARY" not in text


def test_repair_rebuilds_an_index_whose_chunks_are_lost(server_name: str) -> None:
    backend = FakeSmallLimitBackend()
    storage = MCPSecretsStorage(server_name, backend=backend)
    names = [f"credential_number_{i:03d}_with_a_long_name" for i in range(20)]
    for n in names:
        storage.store_secret(n, "v")
    index_chunks = [k for k in backend.keys(storage.service)
                    if k.startswith("__chunk__" + INDEX_KEY)]
    assert index_chunks  # the index really is chunked
    backend.delete(storage.service, index_chunks[0])
    reader = MCPSecretsStorage(server_name, backend=backend)
    with pytest.raises(BackendError, match=r"index .* is corrupted"):
        reader.list_secrets()
    report = reader.repair()
    assert report["index_rebuilt"] and report["unindexed_added"] == 20
    assert reader.list_secrets() == sorted(names)
    assert reader.clear_secrets() == 20
    assert backend.keys(storage.service) == []


class _Crash(BaseException):
    """Stands in for the process dying: nothing after the raise runs."""


def test_interrupted_chunked_write_keeps_the_old_value(server_name: str) -> None:
    backend = FakeSmallLimitBackend()
    storage = MCPSecretsStorage(server_name, backend=backend)
    old, new = "old-value-" * 60, "new-value-" * 60
    storage.store_secret("big", old)
    real_set = backend.set
    writes = 0

    def crashing_set(service: str, key: str, value: str) -> None:
        nonlocal writes
        if key.startswith("__chunk__big"):
            writes += 1
            if writes == 3:
                raise _Crash
        real_set(service, key, value)

    backend.set = crashing_set  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        storage.store_secret("big", new)
    backend.set = real_set  # type: ignore[method-assign]
    reader = MCPSecretsStorage(server_name, backend=backend)
    assert reader.retrieve_secret("big") == old
    report = reader.repair()
    assert report["orphan_chunks_removed"] == 2
    assert reader.retrieve_secret("big") == old


def test_a_failed_value_write_leaves_no_ghost_in_the_index(server_name: str) -> None:
    backend = FakeLeakyBrokenBackend({"set"})  # the store refuses every value, not the index
    storage = MCPSecretsStorage(server_name, backend=backend)
    with pytest.raises(BackendError):
        storage.store_secret("new_name", "v")
    assert storage.list_secrets() == []
    assert MCPSecretsStorage(server_name, backend=backend).list_secrets() == []
    assert backend.keys(storage.service) in ([], [INDEX_KEY])


def test_small_limit_below_a_marker_is_refused(server_name: str) -> None:
    class Tiny(FakeSmallLimitBackend):
        max_value_bytes = 64

    with pytest.raises(ValueError, match="at least"):
        MCPSecretsStorage(server_name, backend=Tiny())


# ------------------------------------------------------------------- cache


def test_repeated_reads_are_served_from_the_cache(server_name: str,
                                                  ss: SecretServiceBackend) -> None:
    counting = CountingBackend(ss)
    storage = MCPSecretsStorage(server_name, backend=counting)
    storage.store_secret("k", "v")
    before = counting.calls["get"]
    for _ in range(50):
        assert storage.retrieve_secret("k") == "v"
        assert storage.secret_exists("k")
        assert storage.retrieve_secret("missing") is None
        assert storage.list_secrets() == ["k"]
    assert counting.calls["get"] - before <= 2  # "missing" once, then nothing


def test_cache_is_invalidated_by_another_process(server_name: str,
                                                 ss: SecretServiceBackend) -> None:
    storage = MCPSecretsStorage(server_name, backend=ss)
    storage.store_secret("k", "v1")
    assert storage.retrieve_secret("k") == "v1"
    assert storage.retrieve_secret("later") is None  # negative result cached
    assert storage.list_secrets() == ["k"]
    setup = ("from mcp_secrets.storage import MCPSecretsStorage as S; "
             "from mcp_secrets.backends.secret_service import SecretServiceBackend as B; "
             f"s = S({server_name!r}, backend=B()); ")
    run_py(setup + "s.store_secret('k', 'v2'); s.store_secret('later', 'now')")
    assert storage.retrieve_secret("k") == "v2"
    assert storage.retrieve_secret("later") == "now"
    assert storage.list_secrets() == ["k", "later"]
    run_py(setup + "s.delete_secret('k')")
    assert storage.retrieve_secret("k") is None
    assert not storage.secret_exists("k")
    assert storage.list_secrets() == ["later"]


def test_cache_is_bypassed_while_a_writer_is_mid_write(server_name: str,
                                                       ss: SecretServiceBackend) -> None:
    counting = CountingBackend(ss)
    storage = MCPSecretsStorage(server_name, backend=counting)
    storage.store_secret("k", "v")
    gen = Generation.for_service(storage.service)
    gen.begin_write()  # as if a writer died after starting: counter left odd
    try:
        before = counting.calls["get"]
        for _ in range(3):
            assert storage.retrieve_secret("k") == "v"
        assert counting.calls["get"] - before == 3
    finally:
        gen.end_write()


# --------------------------------------------------------------- leak canary

CANARY = "LEAK-CANARY-9d2f61c0"


def test_leak_canary_never_reaches_logs_errors_or_repr(
    server_name: str, ss: SecretServiceBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    storage = MCPSecretsStorage(server_name, backend=ss)
    storage.store_secret("canary", CANARY)
    storage.store_secret("canary_big", CANARY * 3000)
    assert storage.retrieve_secret("canary") == CANARY
    storage.list_secrets()
    texts += [repr(storage), str(storage), repr(ss), str(storage.repair())]
    storage.delete_secret("canary")

    small = MCPSecretsStorage(server_name + "-small", backend=FakeSmallLimitBackend())
    small.store_secret("canary", CANARY * 50)
    texts.append(repr(small))

    for fail_on in ({"set"}, {"get"}):
        leaky = FakeLeakyBrokenBackend(fail_on)
        broken = MCPSecretsStorage(server_name + "-leaky", backend=leaky)
        if fail_on == {"get"}:
            leaky.fail_on = set()
            broken.store_secret("canary", CANARY)
            leaky.fail_on = fail_on
            broken._cgen = -1
        with pytest.raises(SecretsError) as info:
            if fail_on == {"set"}:
                broken.store_secret("canary", CANARY)
            else:
                broken.retrieve_secret("canary")
        texts.append("".join(traceback.format_exception(info.value)))
        texts.append(repr(info.value))

    with pytest.raises(ValueError) as bad:
        storage.store_secret("canary", CANARY + "\ud800")
    texts.append("".join(traceback.format_exception(bad.value)))

    records = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("canary" in r for r in records)  # the names were logged, so logging was on
    for text in texts + records:
        assert CANARY not in text


def test_a_lock_held_elsewhere_is_a_clear_error_and_changes_nothing(server_name: str,
                                                                     ss: SecretServiceBackend
                                                                     ) -> None:
    storage = MCPSecretsStorage(server_name, backend=ss, lock_timeout=0.3)
    holder = subprocess.Popen(  # another process holding this store's write lock
        [sys.executable, "-c",
         "import sys\nfrom mcp_secrets.storage import MCPSecretsStorage\n"
         "from mcp_secrets.backends.secret_service import SecretServiceBackend as B\n"
         "with MCPSecretsStorage(sys.argv[1], backend=B())._locked():\n"
         "    print('held', flush=True); sys.stdin.read()", server_name],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(BackendError) as info:
            storage.store_secret("api_key", "canary-lock-Zq81")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert "another process is writing" in str(info.value)
    assert "canary-lock-Zq81" not in str(info.value)
    assert storage.list_secrets() == [] and storage.retrieve_secret("api_key") is None


def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    monkeypatch.setenv("MCP_SECRETS_STATE_DIR", str(state))
    return state


def test_state_dir_others_can_change_is_refused(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A group/world-writable or foreign-owned state dir let another user swap our locks and
    counters; it is refused with a clear error before anything is written."""
    import os

    from mcp_secrets.backends.memory import MemoryBackend

    state = _state(tmp_path, monkeypatch)
    state.chmod(0o777)
    with pytest.raises(BackendError, match=r"others may write to it.*chmod go-w"):
        MCPSecretsStorage("srv", MemoryBackend())
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
    else:
        foreign = Path("/usr")  # root's, not ours
    monkeypatch.setenv("MCP_SECRETS_STATE_DIR", str(foreign))
    with pytest.raises(BackendError, match="belongs to another user"):
        MCPSecretsStorage("srv", MemoryBackend())


def test_planted_symlink_for_the_counter_is_refused(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A symlink planted where the cache counter goes made us write into its target."""
    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.cache import state_file_stem

    state = _state(tmp_path, monkeypatch)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (state / "generations").mkdir(mode=0o700)
    (state / "generations" / f"{state_file_stem('com.mcp.symlinked')}.gen").symlink_to(victim)
    with pytest.raises(BackendError, match="symlink"):
        MCPSecretsStorage("symlinked", MemoryBackend()).store_secret("k", "v")
    assert victim.read_bytes() == b"precious"


def test_unusable_lock_file_is_a_clear_backend_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.backends.memory import MemoryBackend
    from mcp_secrets.cache import state_file_stem

    state = _state(tmp_path, monkeypatch)
    (state / "locks").mkdir(mode=0o700)
    (state / "locks" / f"{state_file_stem('com.mcp.lockless')}.lock").mkdir()  # not a file
    storage = MCPSecretsStorage("lockless", MemoryBackend(), lock_timeout=0.5)
    with pytest.raises(BackendError, match="cannot use the lock file"):
        storage.store_secret("k", "v")
    assert storage.list_secrets() == []
