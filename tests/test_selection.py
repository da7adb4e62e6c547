"""Backend selection: automatic, explainable, never plaintext. Each case runs in a fresh
interpreter with its own environment (the rig's real Secret Service is up; cases without it
unset DBUS_SESSION_BUS_ADDRESS or point it at a dead or silent socket)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_secrets import selection
from mcp_secrets.backends.keyring_backend import keyring_verdict

pytestmark = pytest.mark.keychain

REPORT = """
    import json, sys
    from mcp_secrets import selection
    d = selection.diagnose()
    out = {"diag": {"backend": d.backend, "reason": d.reason, "steps": d.steps, "fix": d.fix}}
    try:
        b = selection.default_backend()
        out["chosen"] = b.name
        out["same"] = b is selection.default_backend()
    except Exception as exc:
        out["error"] = [type(exc).__name__, str(exc)]
    out["keyring_imported"] = "keyring" in sys.modules
    print(json.dumps(out))
"""


def _env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["MCP_SECRETS_DATA_DIR"] = str(tmp_path / "data")
    for var in ("MCP_SECRETS_BACKEND", "MCP_SECRETS_PASSPHRASE", "MCP_SECRETS_PASSPHRASE_FILE"):
        env.pop(var, None)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def report(env: dict[str, str], code: str = REPORT) -> dict[str, object]:
    # start_new_session: no controlling terminal, so "prompt on the terminal" is not a source
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
        timeout=60, start_new_session=True, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    result: dict[str, object] = json.loads(r.stdout)
    return result


@pytest.fixture
def silent_bus(tmp_path: Path) -> Iterator[str]:
    """A unix socket that accepts D-Bus clients and never answers: a wedged session bus."""
    path = str(tmp_path / "silent-bus")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"unix:path={path}"
    stop.set()
    t.join()
    for c in held:
        c.close()
    server.close()


def test_real_secret_service_is_chosen_on_linux(tmp_path: Path) -> None:
    out = report(_env(tmp_path))
    diag = out["diag"]
    assert isinstance(diag, dict)
    assert diag["backend"] == "secret-service" and out["chosen"] == "secret-service"
    assert out["same"] is True  # cached per process
    assert any("secret-service" in s and "chosen" in s for s in diag["steps"])
    assert out["keyring_imported"] is False  # the Linux path never imports keyring


def test_no_bus_and_no_passphrase_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    out = report(_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=None))
    diag = out["diag"]
    assert isinstance(diag, dict)
    assert diag["backend"] is None
    assert "gnome-keyring" in diag["fix"] and "MCP_SECRETS_PASSPHRASE" in diag["fix"]
    assert "MCP_SECRETS_PASSPHRASE_FILE" in diag["fix"]
    assert out["error"][0] == "NoKeychainError"
    assert "gnome-keyring" in out["error"][1] and "MCP_SECRETS_PASSPHRASE" in out["error"][1]
    assert [s.split(":")[0] for s in diag["steps"]] == ["secret-service", "keyring", "file"]
    data = tmp_path / "data"
    assert not data.exists() or not any(data.iterdir())  # never a plaintext fallback


def test_dead_bus_with_passphrase_picks_the_encrypted_file(tmp_path: Path) -> None:
    env = _env(tmp_path, DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path}/no-such-socket",
               MCP_SECRETS_PASSPHRASE="pw")
    out = report(env)
    diag = out["diag"]
    assert isinstance(diag, dict)
    assert diag["backend"] == "file" and out["chosen"] == "file"
    assert diag["steps"][0].startswith("secret-service: not usable")
    assert "MCP_SECRETS_PASSPHRASE" in diag["steps"][-1]
    assert out["keyring_imported"] is False


def test_wedged_bus_does_not_stall_selection(tmp_path: Path, silent_bus: str) -> None:
    # A hang here would hit report()'s subprocess timeout and fail the test.
    env = _env(tmp_path, DBUS_SESSION_BUS_ADDRESS=silent_bus,
               MCP_SECRETS_PASSPHRASE_FILE=str(tmp_path / "pw"))
    (tmp_path / "pw").write_text("pw\n")
    out = report(env)
    diag = out["diag"]
    assert isinstance(diag, dict)
    assert diag["backend"] == "file"
    assert "secret-service: not usable" in diag["steps"][0]
    assert str(tmp_path / "pw") in diag["steps"][-1]
    assert out["keyring_imported"] is False


def test_explicit_memory_and_file(tmp_path: Path) -> None:
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="memory"))
    assert out["chosen"] == "memory"
    assert "lost" in json.dumps(out["diag"])
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="FILE", MCP_SECRETS_PASSPHRASE="pw"))
    assert out["chosen"] == "file"  # explicit beats the available Secret Service


def test_explicit_choice_that_does_not_work_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="file"))
    assert out["error"][0] == "NoKeychainError"
    assert "MCP_SECRETS_PASSPHRASE" in out["error"][1]
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="secret-service",
                      DBUS_SESSION_BUS_ADDRESS=None, MCP_SECRETS_PASSPHRASE="pw"))
    assert out["error"][0] == "NoKeychainError"  # not the file store, although it is available
    assert "secret-service" in out["error"][1]


def test_unknown_backend_lists_the_valid_ones(tmp_path: Path) -> None:
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="plaintext"))
    assert out["error"][0] == "UnknownBackendError"
    for name in selection.VALID_BACKENDS:
        assert name in out["error"][1]
    diag = out["diag"]
    assert isinstance(diag, dict)
    assert diag["backend"] is None and "MCP_SECRETS_BACKEND" in diag["reason"]
    assert "plaintext" not in diag["reason"]  # a value pasted into the variable is not echoed


def test_explicit_keyring_uses_keyrings_real_secret_service(tmp_path: Path) -> None:
    code = REPORT.replace(
        'out["chosen"] = b.name', 'out["chosen"] = b.name; out["d"] = b.describe()'
    )
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="keyring"), code)
    assert out["chosen"] == "keyring"
    assert "SecretService" in str(out["d"])


def test_keychain_backend_never_returns_file_or_memory(tmp_path: Path) -> None:
    code = """
        import json
        from mcp_secrets import selection
        try:
            print(json.dumps({"name": selection.keychain_backend().name}))
        except Exception as exc:
            print(json.dumps({"error": type(exc).__name__, "msg": str(exc)}))
    """
    out = report(_env(tmp_path, MCP_SECRETS_BACKEND="file", MCP_SECRETS_PASSPHRASE="pw"), code)
    assert out == {"name": "secret-service"}
    out = report(_env(tmp_path, DBUS_SESSION_BUS_ADDRESS=None, MCP_SECRETS_PASSPHRASE="pw"), code)
    assert out["error"] == "NoKeychainError"
    assert "EncryptedFileStorage" in str(out["msg"])


def test_keyring_verdict_rejects_non_keychains() -> None:
    import keyring.backends.chainer
    import keyring.backends.fail
    import keyring.backends.null
    from keyring.backends import SecretService

    assert "no keychain" in str(keyring_verdict(keyring.backends.fail.Keyring()))
    assert keyring_verdict(keyring.backends.null.Keyring()) is not None

    class PlaintextKeyring(keyring.backends.null.Keyring):  # a stand-in named like keyrings.alt's
        priority = 5

    assert "plain text" in str(keyring_verdict(PlaintextKeyring()))
    assert keyring_verdict(SecretService.Keyring()) is None


def test_reset_forgets_the_cached_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_SECRETS_BACKEND", "memory")
    selection.reset()
    try:
        first = selection.default_backend()
        assert first is selection.default_backend()
        selection.reset()
        assert selection.default_backend() is not first
    finally:
        selection.reset()
