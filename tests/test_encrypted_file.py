"""EncryptedFileBackend: the embedded store for machines without a keychain. Real files, real
AES-GCM and scrypt, real processes (writers are SIGKILLed for the crash test)."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from mcp_secrets.backends.encrypted_file import (
    ENV_PASSPHRASE,
    ENV_PASSPHRASE_FILE,
    MAGIC,
    EncryptedFileBackend,
    _key_cache,
)
from mcp_secrets.errors import (
    BackendError,
    KeychainLockedError,
    PassphraseError,
    StoreDamagedError,
    WrongPassphraseError,
)

SERVICE = "com.mcp.enc-test"
CANARY = "canary-Zq7vX-secret-value-4471"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("MCP_SECRETS_DATA_DIR", str(d))
    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE)
    monkeypatch.delenv(ENV_PASSPHRASE_FILE, raising=False)
    return d


def run_py(
    code: str, env: dict[str, str], *, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with no controlling terminal (so no prompt is possible)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
        timeout=timeout, start_new_session=True, stdin=subprocess.DEVNULL,
    )


def test_round_trip_keys_and_delete(data_dir: Path) -> None:
    b = EncryptedFileBackend()
    assert b.get(SERVICE, "a") is None
    b.set(SERVICE, "a", CANARY)
    b.set(SERVICE, "ünïcødé ключ", "värde ✓ 🔑")
    big = "x" * 100_000
    b.set(SERVICE, "big", big)
    assert b.get(SERVICE, "a") == CANARY
    assert b.get(SERVICE, "ünïcødé ключ") == "värde ✓ 🔑"
    assert b.get(SERVICE, "big") == big
    assert b.keys(SERVICE) == sorted(["a", "big", "ünïcødé ключ"])
    assert b.delete(SERVICE, "a") is True
    assert b.delete(SERVICE, "a") is False
    assert b.get(SERVICE, "a") is None
    assert b.keys("com.mcp.other") == []


def test_file_is_encrypted_private_and_authenticated(data_dir: Path) -> None:
    b = EncryptedFileBackend()
    b.set(SERVICE, "token", CANARY)
    path = b.path_for(SERVICE)
    raw = path.read_bytes()
    assert raw.startswith(MAGIC)
    assert CANARY.encode() not in raw and b"token" not in raw  # names are secret too
    assert PASSPHRASE.encode() not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    lock = Path(str(path) + ".lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    header_len = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
    header = json.loads(raw[len(MAGIC) + 4 : len(MAGIC) + 4 + header_len])
    assert header["cipher"] == "AES-256-GCM" and header["kdf"]["name"] == "scrypt"
    assert header["service"] == SERVICE

    # a rewrite keeps the salt (so the cached key still applies) but uses a fresh nonce
    b.set(SERVICE, "token", CANARY)
    raw2 = path.read_bytes()
    header2 = json.loads(raw2[len(MAGIC) + 4 : len(MAGIC) + 4 + header_len])
    assert header2["kdf"]["salt"] == header["kdf"]["salt"]
    assert header2["nonce"] != header["nonce"]
    assert raw2 != raw
    # another service's file has its own salt
    b.set("com.mcp.second", "k", "v")
    raw3 = b.path_for("com.mcp.second").read_bytes()
    h3_len = int.from_bytes(raw3[len(MAGIC) : len(MAGIC) + 4], "big")
    assert json.loads(raw3[len(MAGIC) + 4 : len(MAGIC) + 4 + h3_len])["kdf"]["salt"] != (
        header["kdf"]["salt"]
    )


def test_key_is_derived_once_per_file(data_dir: Path) -> None:
    b = EncryptedFileBackend()
    b.set(SERVICE, "a", "1")
    path = str(b.path_for(SERVICE))
    mine = [k for k in _key_cache if k[0] == path]
    assert len(mine) == 1
    EncryptedFileBackend().get(SERVICE, "a")  # a second instance reuses the cached key
    b.set(SERVICE, "b", "2")
    assert [k for k in _key_cache if k[0] == path] == mine


def test_persists_across_processes(data_dir: Path) -> None:
    env = dict(os.environ)
    r = run_py(
        f"""
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        EncryptedFileBackend().set({SERVICE!r}, "from-child", {CANARY!r})
        """,
        env,
    )
    assert r.returncode == 0, r.stderr
    assert EncryptedFileBackend().get(SERVICE, "from-child") == CANARY
    EncryptedFileBackend().set(SERVICE, "from-parent", "p-value")
    r = run_py(
        f"""
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        b = EncryptedFileBackend()
        print(b.get({SERVICE!r}, "from-parent"), sorted(b.keys({SERVICE!r})))
        """,
        env,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "p-value ['from-child', 'from-parent']"


def test_wrong_passphrase_is_clear_and_changes_nothing(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    EncryptedFileBackend().set(SERVICE, "k", CANARY)
    path = EncryptedFileBackend().path_for(SERVICE)
    before = path.read_bytes()
    wrong = EncryptedFileBackend(passphrase="not the passphrase")
    for attempt in (
        lambda: wrong.get(SERVICE, "k"),
        lambda: wrong.set(SERVICE, "k", "overwrite"),
        lambda: wrong.delete(SERVICE, "k"),
        lambda: wrong.keys(SERVICE),
    ):
        with pytest.raises(WrongPassphraseError) as info:
            attempt()
        msg = str(info.value)
        assert "wrong passphrase for" in msg and str(path) in msg
        assert isinstance(info.value, KeychainLockedError)
        assert info.value.__cause__ is None
        assert info.value.__context__ is None or info.value.__suppress_context__
        assert CANARY not in msg and "not the passphrase" not in msg and PASSPHRASE not in msg
    assert path.read_bytes() == before
    assert EncryptedFileBackend().get(SERVICE, "k") == CANARY
    assert CANARY not in caplog.text and PASSPHRASE not in caplog.text


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["ciphertext", "tag", "header", "truncate", "garbage", "empty"])
def test_tampered_or_truncated_file_is_refused_and_kept(data_dir: Path, damage: str) -> None:
    b = EncryptedFileBackend()
    b.set(SERVICE, "k", CANARY)
    path = b.path_for(SERVICE)
    raw = path.read_bytes()
    header_len = int.from_bytes(raw[len(MAGIC) : len(MAGIC) + 4], "big")
    if damage == "ciphertext":
        _flip(path, len(MAGIC) + 4 + header_len + 3)
    elif damage == "tag":
        _flip(path, len(raw) - 1)
    elif damage == "header":
        # change the service name inside the (authenticated) header, keeping it valid JSON
        path.write_bytes(
            raw.replace(b'"service":"com.mcp.enc-test"', b'"service":"com.mcp.enc-tesT"')
        )
    elif damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(b"definitely not ours\n")
    else:
        path.write_bytes(b"")
    damaged = path.read_bytes()
    fresh = EncryptedFileBackend()
    with pytest.raises(BackendError, match="damaged or was tampered") as info:
        fresh.get(SERVICE, "k")
    assert CANARY not in str(info.value) and "mv " in str(info.value)
    with pytest.raises(BackendError, match="damaged or was tampered"):
        fresh.set(SERVICE, "k", "new value")  # refuses to overwrite: nothing is lost
    with pytest.raises(BackendError, match="damaged or was tampered"):
        fresh.delete(SERVICE, "k")
    assert path.read_bytes() == damaged


def test_header_parameter_tampering_is_detected(data_dir: Path) -> None:
    b = EncryptedFileBackend()
    b.set(SERVICE, "k", "v")
    path = b.path_for(SERVICE)
    raw = path.read_bytes()
    assert b'"r":8' in raw
    path.write_bytes(raw.replace(b'"r":8', b'"r":9'))  # same length, valid JSON, wrong key
    with pytest.raises(StoreDamagedError, match="damaged") as info:
        EncryptedFileBackend().get(SERVICE, "k")
    assert not isinstance(info.value, KeychainLockedError)  # not "wrong passphrase"
    # a file copied from another service is not accepted under this name
    b.set("com.mcp.other", "k", "other's")
    b.path_for(SERVICE).write_bytes(b.path_for("com.mcp.other").read_bytes())
    with pytest.raises(BackendError, match="different service"):
        b.get(SERVICE, "k")


def test_no_passphrase_source_explains_the_three_ways(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_PASSPHRASE, ENV_PASSPHRASE_FILE)}
    r = run_py(
        f"""
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        from mcp_secrets.errors import PassphraseError
        b = EncryptedFileBackend()
        assert b.get({SERVICE!r}, "k") is None  # nothing to decrypt: nothing asked
        try:
            b.set({SERVICE!r}, "k", {CANARY!r})
        except PassphraseError as exc:
            print("ERR", exc)
        """,
        env,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ERR ")
    for way in (ENV_PASSPHRASE, ENV_PASSPHRASE_FILE, "terminal"):
        assert way in r.stdout
    assert CANARY not in r.stdout + r.stderr
    assert not EncryptedFileBackend().path_for(SERVICE).exists()  # never written in plain


def test_passphrase_file(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSPHRASE + "\n")
    monkeypatch.delenv(ENV_PASSPHRASE)
    monkeypatch.setenv(ENV_PASSPHRASE_FILE, str(pw_file))
    EncryptedFileBackend().set(SERVICE, "k", "via file")
    # the trailing newline was stripped: the env passphrase opens the same file
    monkeypatch.delenv(ENV_PASSPHRASE_FILE)
    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE)
    assert EncryptedFileBackend().get(SERVICE, "k") == "via file"

    monkeypatch.delenv(ENV_PASSPHRASE)
    monkeypatch.setenv(ENV_PASSPHRASE_FILE, str(tmp_path / "missing"))
    with pytest.raises(PassphraseError, match="cannot be read"):
        EncryptedFileBackend().get(SERVICE, "k")
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv(ENV_PASSPHRASE_FILE, str(tmp_path / "empty"))
    with pytest.raises(PassphraseError, match="is empty"):
        EncryptedFileBackend().get(SERVICE, "k")


def test_repr_and_errors_hold_no_values(data_dir: Path) -> None:
    b = EncryptedFileBackend(passphrase=CANARY)
    b.set(SERVICE, "k", CANARY)
    for text in (repr(b), b.describe()):
        assert CANARY not in text
    assert "AES-256-GCM" in repr(b)


def test_concurrent_writers_lose_nothing(data_dir: Path) -> None:
    writers, per_writer = 4, 15
    code = f"""
        import sys
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        b = EncryptedFileBackend()
        w = sys.argv[1]
        for i in range({per_writer}):
            b.set({SERVICE!r}, f"w{{w}}-{{i}}", f"value-{{w}}-{{i}}")
    """
    EncryptedFileBackend().set(SERVICE, "seed", "x")  # create the file (and salt) first
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(w)],
                         stderr=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    keys = EncryptedFileBackend().keys(SERVICE)
    assert len(keys) == writers * per_writer + 1
    assert EncryptedFileBackend().get(SERVICE, "w3-14") == "value-3-14"


def test_killed_writer_never_leaves_a_half_written_file(data_dir: Path) -> None:
    """SIGKILL a busy writer at random moments: the file always decrypts, to a state with
    every value internally consistent, and the counter never goes backwards."""
    b = EncryptedFileBackend()
    b.set(SERVICE, "counter", json.dumps({"n": 0, "pad": "p" * 200_000, "check": 0}))
    path = b.path_for(SERVICE)
    code = f"""
        import json, sys
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        b = EncryptedFileBackend()
        n = json.loads(b.get({SERVICE!r}, "counter"))["n"]
        b.set({SERVICE!r}, "shadow", str(n))  # catch up after the previous kill
        while True:
            n += 1
            value = {{"n": n, "pad": "p" * 200_000, "check": n * 7}}
            b.set({SERVICE!r}, "counter", json.dumps(value))
            print("wrote", flush=True)  # the first one tells the parent the round has begun
            b.set({SERVICE!r}, "shadow", str(n))
    """
    rng = random.Random(1234)
    last = 0
    for _ in range(25):
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "wrote"  # waits however slow the disk is
        time.sleep(rng.uniform(0.0, 0.08))  # not a wait: picks a random point to kill at
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = EncryptedFileBackend()
        value = json.loads(state.get(SERVICE, "counter") or "{}")
        assert value["check"] == value["n"] * 7 and value["pad"] == "p" * 200_000
        shadow = int(state.get(SERVICE, "shadow") or 0)
        assert shadow in (value["n"], value["n"] - 1)  # killed between the two writes at most
        assert value["n"] > last  # each round wrote at least once before its kill
        last = value["n"]
    # temp files a killed writer left behind are removed by the next write, under the lock
    b.set(SERVICE, "after", "1")
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _pty_run(code: str, env: dict[str, str], answers: list[str]) -> str:
    """Run `code` with a real pseudo-terminal as its controlling tty, answering each prompt."""
    import pty
    import select

    pid, master = pty.fork()
    if pid == 0:  # child: the pty is its controlling terminal, so /dev/tty works
        os.execve(sys.executable, [sys.executable, "-c", textwrap.dedent(code)], env)  # noqa: S606
    out = b""
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if pending and out.rstrip().endswith(b":"):
                os.write(master, pending.pop(0).encode() + b"\n")
                out += b"<answered>"
    finally:
        os.close(master)
        os.waitpid(pid, 0)
    return out.decode(errors="replace")


def test_interactive_prompt_on_the_terminal(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_PASSPHRASE, ENV_PASSPHRASE_FILE)}
    code = f"""
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend, passphrase_source
        print("SOURCE", passphrase_source())
        b = EncryptedFileBackend()
        b.set({SERVICE!r}, "k", {CANARY!r})
        print("STORED", flush=True)
    """
    out = _pty_run(code, env, ["typed passphrase", "typed passphrase"])
    assert "SOURCE an interactive prompt on the terminal" in out
    assert "New passphrase" in out and "Repeat" in out and "STORED" in out
    assert "typed passphrase" not in out and CANARY not in out  # hidden input, no echo
    assert EncryptedFileBackend(passphrase="typed passphrase").get(SERVICE, "k") == CANARY
    # an existing file asks once (no confirmation), and a wrong answer is refused clearly
    code = f"""
        from mcp_secrets.backends.encrypted_file import EncryptedFileBackend
        try:
            EncryptedFileBackend().get({SERVICE!r}, "k")
        except Exception as exc:
            print("ERR", type(exc).__name__)
    """
    out = _pty_run(code, env, ["bad guess"])
    assert "Passphrase for" in out and "ERR WrongPassphraseError" in out


def test_threads_writing_at_once_lose_nothing(data_dir: Path) -> None:
    import threading

    b = EncryptedFileBackend()
    b.set(SERVICE, "seed", "x")
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(15):
                b.set(SERVICE, f"t{t}-{i}", str(i))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(b.keys(SERVICE)) == 6 * 15 + 1


def test_callable_passphrase_is_asked_once(data_dir: Path) -> None:
    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return "from a callable"

    b = EncryptedFileBackend(passphrase=ask)
    b.set(SERVICE, "a", "1")
    b.set(SERVICE, "b", "2")
    assert b.get(SERVICE, "a") == "1"
    assert len(asked) == 1


def test_a_lock_held_elsewhere_is_a_clear_error_and_changes_nothing(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp_secrets.backends import encrypted_file
    from tests.helpers_backends import lock_held_elsewhere

    b = EncryptedFileBackend()
    b.set(SERVICE, "k", "before")
    monkeypatch.setattr(encrypted_file, "LOCK_TIMEOUT", 0.3)
    with lock_held_elsewhere(Path(str(b.path_for(SERVICE)) + ".lock")), \
            pytest.raises(BackendError, match="held the lock") as info:
        b.set(SERVICE, "k", "canary-lock-Zq81")
    assert "canary-lock-Zq81" not in str(info.value)
    assert EncryptedFileBackend().get(SERVICE, "k") == "before"


def test_any_valid_name_fits_and_unicode_forms_are_one_name(data_dir: Path) -> None:
    """A long non-ASCII server name failed with "File name too long"; names differing only in
    Unicode normalization were two secrets here but one file on macOS/Windows."""
    import unicodedata

    from mcp_secrets.names import MAX_NAME_LENGTH
    from mcp_secrets.storage import MCPSecretsStorage

    long_server = ("日本語サーバー" * 30)[:MAX_NAME_LENGTH]
    s = MCPSecretsStorage(long_server, EncryptedFileBackend())
    s.store_secret("KEY", CANARY)
    assert MCPSecretsStorage(long_server, EncryptedFileBackend()).retrieve_secret("KEY") == CANARY
    assert all(len(p.name.encode()) <= 255 for p in data_dir.iterdir())

    nfd, nfc = unicodedata.normalize("NFD", "café"), unicodedata.normalize("NFC", "café")
    assert nfd != nfc
    a = MCPSecretsStorage(nfd, EncryptedFileBackend())
    a.store_secret(f"token-{nfd}", CANARY)
    b = MCPSecretsStorage(nfc, EncryptedFileBackend())
    assert b.service == a.service and b.retrieve_secret(f"token-{nfc}") == CANARY
    assert b.list_secrets() == [f"token-{nfc}"]
    b.store_secret(f"token-{nfc}", "second")
    assert a.retrieve_secret(f"token-{nfd}") == "second"  # one entry, not two
    # a secret stored under a decomposed name before this change stays readable and deletable
    legacy = MCPSecretsStorage("legacy", EncryptedFileBackend())
    legacy.backend.set(legacy.service, f"old-{nfd}", CANARY)
    legacy.backend.set(legacy.service, "__secret_index__",
                       json.dumps({"v": 1, "names": [f"old-{nfd}"], "pending": []}))
    assert legacy.retrieve_secret(f"old-{nfd}") == CANARY
    assert legacy.delete_secret(f"old-{nfd}") and legacy.list_secrets() == []
    # short names keep the file name they always had: existing stores need no migration
    assert EncryptedFileBackend().path_for("com.mcp.srv").name == "com.mcp.srv.enc"


def _rewrite_header(path: Path, change: Any) -> None:
    import struct

    raw = path.read_bytes()
    (size,) = struct.unpack(">I", raw[len(MAGIC) : len(MAGIC) + 4])
    header = json.loads(raw[len(MAGIC) + 4 : len(MAGIC) + 4 + size])
    change(header)
    new = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    path.write_bytes(MAGIC + struct.pack(">I", len(new)) + new + raw[len(MAGIC) + 4 + size :])


def test_damaged_is_told_from_wrong_passphrase(data_dir: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A flipped salt byte failed the key check and was reported as a wrong passphrase, whose
    fix (another passphrase) cannot help; and the right passphrase must still say "wrong" only
    when it is."""
    b = EncryptedFileBackend()
    b.set(SERVICE, "k", CANARY)
    path = b.path_for(SERVICE)
    monkeypatch.setenv(ENV_PASSPHRASE, "not the passphrase")
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        EncryptedFileBackend().get(SERVICE, "k")
    monkeypatch.setenv(ENV_PASSPHRASE, PASSPHRASE)

    def flip_salt(header: dict[str, Any]) -> None:
        salt = header["kdf"]["salt"]
        header["kdf"]["salt"] = ("B" if salt[0] != "B" else "C") + salt[1:]

    _rewrite_header(path, flip_salt)
    with pytest.raises(StoreDamagedError, match="damaged") as info:
        EncryptedFileBackend().get(SERVICE, "k")
    assert not isinstance(info.value, WrongPassphraseError) and CANARY not in str(info.value)


@pytest.mark.parametrize(("log2_n", "r", "p"), [(20, 32, 16), (20, 8, 1), (18, 8, 16)])
def test_costly_kdf_parameters_in_a_header_are_refused_before_deriving(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, log2_n: int, r: int, p: int,
) -> None:
    """Parameters up to log2_n=20, r=32, p=16 were accepted: 4 GiB and minutes of scrypt from
    a tampered header. Refused as damage now, without running the KDF at all."""
    from mcp_secrets.backends import encrypted_file

    b = EncryptedFileBackend()
    b.set(SERVICE, "k", CANARY)
    _key_cache.clear()

    def kdf(header: dict[str, Any]) -> None:
        header["kdf"].update(log2_n=log2_n, r=r, p=p)
        header.pop("sum", None)  # as an attacker would, so only the bounds can stop it

    _rewrite_header(b.path_for(SERVICE), kdf)
    derived: list[tuple[int, int, int]] = []

    def spy(path: Path, passphrase: str, salt: bytes, n: int, r_: int, p_: int) -> bytes:
        derived.append((n, r_, p_))
        raise AssertionError("scrypt ran on a tampered header")

    monkeypatch.setattr(encrypted_file, "_derive_key", spy)
    with pytest.raises(StoreDamagedError, match="key-derivation parameters"):
        EncryptedFileBackend().get(SERVICE, "k")
    assert derived == []


def test_repair_of_every_server_on_the_file_store(data_dir: Path, tmp_path: Path) -> None:
    """`mcp-secrets repair` with no server finds every server of the file store (hashed file
    names included) and goes on past one whose file is damaged, naming it."""
    from mcp_secrets.storage import INDEX_KEY, MCPSecretsStorage

    long_server = "サーバー" * 32
    for server in ("plain", long_server, "broken"):
        MCPSecretsStorage(server, EncryptedFileBackend()).store_secret("k", CANARY)
    b = EncryptedFileBackend()
    assert {"com.mcp.plain", f"com.mcp.{long_server}", "com.mcp.broken"} <= set(b.services())
    b.set("com.mcp.plain", INDEX_KEY, "{not json")  # an unreadable index to rebuild
    broken = b.path_for("com.mcp.broken")
    broken.write_bytes(broken.read_bytes()[:-3])
    env = {**os.environ, "MCP_SECRETS_BACKEND": "file", "MCP_SECRETS_STATE_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "repair"], env=env,
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "plain: fixed an unreadable index (1 secret(s))" in r.stdout
    assert f"{long_server}: nothing to repair (1 secret(s))" in r.stdout
    assert "broken: could not repair: the encrypted secrets file" in r.stderr
    assert CANARY not in r.stdout + r.stderr
