"""SecretServiceBackend on the real gnome-keyring: interop with keyring, stale paths, threads,
fork, and the failure modes (no bus, no service, dead daemon, locked collection)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest

from mcp_secrets.backends.secret_service import SecretServiceBackend
from mcp_secrets.errors import BackendError, KeychainLockedError, NoKeychainError, SecretsError
from tests import rig
from tests.helpers_backends import wait_child

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.keychain


@pytest.fixture
def service() -> str:
    return f"com.mcp.ss-test-{uuid.uuid4().hex[:8]}"


def run_py(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_probe_says_usable_on_the_rig() -> None:
    assert SecretServiceBackend.probe(timeout=2.0).usable


def test_keyring_and_backend_interoperate_both_ways(service: str) -> None:
    backend = SecretServiceBackend()
    backend.set(service, "ours", "written-by-mcp-secrets")
    assert keyring.get_password(service, "ours") == "written-by-mcp-secrets"
    keyring.set_password(service, "theirs", "written-by-keyring")
    assert backend.get(service, "theirs") == "written-by-keyring"
    keyring.set_password(service, "ours", "overwritten-by-keyring")  # same item, replaced
    assert backend.get(service, "ours") == "overwritten-by-keyring"
    assert backend.keys(service) == ["ours", "theirs"]
    assert backend.delete(service, "theirs") is True
    assert keyring.get_password(service, "theirs") is None
    keyring.delete_password(service, "ours")
    assert backend.get(service, "ours") is None


def test_stale_item_path_is_recovered(service: str) -> None:
    backend = SecretServiceBackend()
    backend.set(service, "k", "v1")
    assert backend.get(service, "k") == "v1"  # path now cached
    other = SecretServiceBackend()  # another connection, as another process would have
    assert other.delete(service, "k")
    assert backend.get(service, "k") is None
    other.set(service, "k", "v2")  # re-created: a new item at a new path
    assert backend.get(service, "k") == "v2"
    assert other.delete(service, "k")
    backend.set(service, "k", "v3")  # writing through a stale path re-creates the item
    assert other.get(service, "k") == "v3"


def test_one_connection_is_safe_across_threads(service: str) -> None:
    backend = SecretServiceBackend()
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                backend.set(service, f"t{t}-{i % 5}", f"value-{t}-{i}")
                assert backend.get(service, f"t{t}-{i % 5}") == f"value-{t}-{i}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(backend.keys(service)) == 40


def test_connection_survives_fork(service: str) -> None:
    backend = SecretServiceBackend()
    backend.set(service, "k", "parent")
    pid = os.fork()
    if pid == 0:  # child: must reconnect, not reuse the parent's socket
        code = 1
        try:
            if backend.get(service, "k") == "parent":
                backend.set(service, "k", "child")
                code = 0
        finally:
            os._exit(code)
    assert wait_child(pid) == 0
    assert backend.get(service, "k") == "child"  # and the parent's connection still works


def test_keys_only_lists_its_own_service(service: str) -> None:
    backend = SecretServiceBackend()
    backend.set(service, "a", "1")
    backend.set(service + "x", "b", "2")
    assert backend.keys(service) == ["a"]
    backend.delete(service + "x", "b")


# ------------------------------------------------------------ failure modes


def test_no_bus_is_a_clear_error() -> None:
    env = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    code = ("from mcp_secrets.backends.secret_service import SecretServiceBackend as B\n"
            "print('PROBE', B.probe(timeout=1.0).reason)\n"
            "try:\n    B().get('com.mcp.x', 'k')\n"
            "except Exception as e:\n    print('ERR', type(e).__name__, e)\n")
    out = run_py(code, env).stdout
    assert "PROBE cannot connect to the D-Bus session bus" in out
    assert "ERR NoKeychainError" in out and "MCP_SECRETS_BACKEND" in out


#: A session bus that can activate nothing, so a killed gnome-keyring stays dead.
NO_SERVICES_CONFIG = """<busconfig><type>session</type><listen>unix:tmpdir=/tmp</listen>
<auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>"""


def _start_bus(home: dict[str, str], config: str | None) -> tuple[str, int]:
    args = ["dbus-daemon", "--fork", "--print-address=1", "--print-pid=1", "--nosyslog"]
    if config is None:
        args.append("--session")
    else:
        path = Path(home["HOME"]) / "bus.conf"
        path.write_text(config)
        args.append(f"--config-file={path}")
    out = subprocess.run(args, capture_output=True, text=True, check=True,
                         env={**os.environ, **home}).stdout.split()
    return out[0], int(out[1])


@pytest.fixture(params=["bare", "activatable"])
def private_bus(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """A REAL second dbus-daemon without a running Secret Service: "bare" knows none at all;
    "activatable" can start gnome-keyring on demand, which then has no unlocked keyring."""
    home = rig.private_home()
    address, pid = _start_bus(home, NO_SERVICES_CONFIG if request.param == "bare" else None)
    try:
        yield request.param, {**home, "DBUS_SESSION_BUS_ADDRESS": address}
    finally:
        os.kill(pid, 15)


def test_bus_without_usable_secret_service_is_a_clear_error(
    private_bus: tuple[str, dict[str, str]],
) -> None:
    kind, env = private_bus
    code = ("from mcp_secrets.backends.secret_service import SecretServiceBackend as B\n"
            "print('PROBE', B.probe(timeout=5.0).reason)\n"
            "try:\n    B(unlock_timeout=10).get('com.mcp.x', 'k')\n"
            "except Exception as e:\n    print('ERR', type(e).__name__, e)\n")
    out = run_py(code, env).stdout
    if kind == "bare":
        assert "PROBE no Secret Service on the session bus" in out
        assert "ERR NoKeychainError" in out and "gnome-keyring-daemon" in out
    else:
        assert "PROBE the Secret Service has no default keyring" in out
        assert "ERR KeychainLockedError" in out and "MCP_SECRETS_BACKEND" in out


@pytest.fixture
def private_keyring() -> Iterator[tuple[dict[str, str], subprocess.Popen[bytes]]]:
    """A REAL second gnome-keyring (unlocked) on its own non-activating bus; the test may kill
    or lock it."""
    home = rig.private_home()
    address, bus_pid = _start_bus(home, NO_SERVICES_CONFIG)
    env = {**home, "DBUS_SESSION_BUS_ADDRESS": address}
    daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock",
                               "--components=secrets"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, **env})
    assert daemon.stdin is not None
    daemon.stdin.write(b"pw")
    daemon.stdin.close()
    try:
        probe = "from mcp_secrets.backends.secret_service import SecretServiceBackend as B\n" \
                "import time\nfor _ in range(100):\n    r = B.probe(timeout=2.0)\n" \
                "    if r.usable: break\n    time.sleep(0.1)\nprint(r.usable)"
        assert run_py(probe, env).stdout.strip() == "True"
        yield env, daemon
    finally:
        if daemon.poll() is None:
            daemon.kill()
        daemon.wait()
        os.kill(bus_pid, 15)


DEAD_DAEMON_SCRIPT = """
import sys
from mcp_secrets import SecretsError
from mcp_secrets.backends.secret_service import SecretServiceBackend as B
b = B(unlock_timeout=5)
b.set("com.mcp.x", "k", "DEAD-CANARY")
print("READ", b.get("com.mcp.x", "k"))
sys.stdout.flush()
sys.stdin.readline()
for op in (lambda: b.get("com.mcp.x", "k"), lambda: b.set("com.mcp.x", "k", "DEAD-CANARY")):
    try:
        op()
        print("NOERR")
    except Exception as e:
        print("ERR", isinstance(e, SecretsError), type(e).__name__, e)
"""


def test_dead_daemon_is_a_backend_error_without_the_value(
    private_keyring: tuple[dict[str, str], subprocess.Popen[bytes]],
) -> None:
    env, daemon = private_keyring
    proc = subprocess.Popen([sys.executable, "-c", DEAD_DAEMON_SCRIPT], cwd=REPO,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env})
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "READ DEAD-CANARY"
    daemon.kill()  # gnome-keyring dies; the bus stays
    daemon.wait()
    out, err = proc.communicate("go\n", timeout=60)
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("ERR True") for line in lines), out + err
    assert "DEAD-CANARY" not in out + err


def test_locked_collection_that_cannot_be_unlocked(
    private_keyring: tuple[dict[str, str], subprocess.Popen[bytes]],
) -> None:
    env, _ = private_keyring
    code = ("import secretstorage\n"
            "from mcp_secrets.backends.secret_service import SecretServiceBackend as B\n"
            "b = B(unlock_timeout=5); b.set('com.mcp.x', 'k', 'v')\n"
            "c = secretstorage.get_default_collection(secretstorage.dbus_init()); c.lock()\n"
            "print('PROBE', B.probe(timeout=2.0).reason)\n"
            "for backend in (b, B(unlock_timeout=5)):\n"
            "    try:\n        backend.get('com.mcp.x', 'k'); print('NOERR')\n"
            "    except Exception as e:\n        print('ERR', type(e).__name__, e)\n")
    out = run_py(code, env).stdout
    assert "PROBE the default keyring collection is locked" in out
    errs = [line for line in out.splitlines() if line.startswith("ERR")]
    assert len(errs) == 2, out
    assert all("KeychainLockedError" in e and "unlock" in e for e in errs)


def test_error_classes_are_secrets_errors() -> None:
    assert issubclass(NoKeychainError, SecretsError)
    assert issubclass(KeychainLockedError, SecretsError)
    assert issubclass(BackendError, SecretsError)


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mcp_secrets.cli", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def test_locked_keychain_never_switches_to_the_file_store(
    private_keyring: tuple[dict[str, str], subprocess.Popen[bytes]], tmp_path: Path,
) -> None:
    """With a passphrase at hand, a locked keychain used to make `get` answer "not stored" and
    `set` write a second copy into the encrypted file. Locked must be an error that says how to
    unlock, and the command that error suggests must really unlock it."""
    env, _ = private_keyring
    env = {**env, "MCP_SECRETS_PASSPHRASE": "file-store-pw",
           "MCP_SECRETS_DATA_DIR": str(tmp_path / "data")}
    env.pop("MCP_SECRETS_BACKEND", None)
    assert _cli(env, "set", "srv", "API_KEY", stdin="LOCKED-CANARY").returncode == 0
    import secretstorage
    from jeepney.io.blocking import open_dbus_connection

    conn = open_dbus_connection(env["DBUS_SESSION_BUS_ADDRESS"])
    secretstorage.get_default_collection(conn).lock()  # over D-Bus, as a screen lock does
    for args, stdin in ((("get", "srv", "API_KEY"), ""), (("set", "srv", "OTHER"), "x"),
                        (("list", "srv"), "")):
        r = _cli(env, *args, stdin=stdin)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert "keyring is locked" in r.stderr and "gnome-keyring-daemon --replace" in r.stderr
        assert "not stored" not in r.stderr and "LOCKED-CANARY" not in r.stdout + r.stderr
    assert not list((tmp_path / "data").glob("*.enc"))  # no second copy anywhere
    doctor = _cli(env, "doctor")
    assert "secret-service" in doctor.stdout and "chosen anyway" in doctor.stdout
    assert "fix:      unlock the keyring" in doctor.stdout and doctor.returncode == 1

    # The unlock command the message gives works on a running daemon (it replaces it).
    replacement = subprocess.Popen(
        ["gnome-keyring-daemon", "--replace", "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **env})
    try:
        assert replacement.stdin is not None
        replacement.stdin.write(b"pw")
        replacement.stdin.close()
        for _ in range(100):
            r = _cli(env, "get", "srv", "API_KEY", "--reveal")
            if r.returncode == 0:
                break
        assert r.stdout == "LOCKED-CANARY\n", r.stderr
    finally:
        replacement.kill()
        replacement.wait()
        conn.close()
