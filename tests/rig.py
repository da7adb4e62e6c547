"""Real components for the tests: a private D-Bus session with an unlocked gnome-keyring, and Xvfb.

Each `start_*` returns a `Component` whose `env` is merged into os.environ by conftest, so the
test process *and every subprocess it spawns* (CLI, MCP servers, dialogs) talk to the same real
daemons. A missing program is a loud failure with the install line, never a silent skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

APT_HINT = (
    "apt-get update && apt-get install -y gnome-keyring dbus-daemon xvfb xdotool x11-utils "
    "imagemagick  (the README's test command does this for you)"
)


class MissingComponent(RuntimeError):
    pass


@dataclass
class Component:
    name: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise MissingComponent(f"{program} is not installed; install it with: {APT_HINT}")
    return path


def private_home() -> dict[str, str]:
    """A throwaway HOME and XDG tree so tests never touch the developer's real keychain."""
    root = Path(tempfile.mkdtemp(prefix="mcp-secrets-rig-"))
    home, run = root / "home", root / "run"
    home.mkdir()
    run.mkdir(mode=0o700)
    return {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(run),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def start_secret_service(env: dict[str, str]) -> Component:
    """dbus-daemon --session plus gnome-keyring-daemon with an unlocked login keyring."""
    dbus = require("dbus-daemon")
    gkd = require("gnome-keyring-daemon")
    full_env = {**os.environ, **env}
    out = subprocess.run(
        [dbus, "--session", "--fork", "--print-address=1", "--print-pid=1", "--nosyslog"],
        capture_output=True, text=True, check=True, env=full_env, timeout=20,
    ).stdout.split()
    address, bus_pid = out[0], int(out[1])
    full_env["DBUS_SESSION_BUS_ADDRESS"] = address
    keyring = subprocess.Popen(
        [gkd, "--foreground", "--unlock", "--components=secrets"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=full_env,
    )
    assert keyring.stdin is not None
    keyring.stdin.write(b"rig-password")
    keyring.stdin.close()
    comp = Component("secret-service", {"DBUS_SESSION_BUS_ADDRESS": address}, [keyring], [bus_pid])
    _wait_for_secret_service(full_env, comp)
    return comp


def _wait_for_secret_service(env: dict[str, str], comp: Component) -> None:
    deadline = time.monotonic() + 20
    probe = (
        "import secretstorage as s; c=s.dbus_init(); col=s.get_default_collection(c); "
        "assert not col.is_locked(), 'locked'"
    )
    import sys

    last = ""
    while time.monotonic() < deadline:
        r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, timeout=20)
        if r.returncode == 0:
            return
        last = (r.stderr.strip().splitlines() or [""])[-1]
        time.sleep(0.2)
    comp.stop()
    raise MissingComponent(f"gnome-keyring did not come up on the private bus: {last}")


def start_xvfb() -> Component:
    """Xvfb on a free display number (it picks one and tells us through -displayfd)."""
    xvfb = require("Xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read_fd, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_fd)
    if not number.strip():
        proc.kill()
        raise MissingComponent("Xvfb started but never reported a display number")
    return Component("xvfb", {"DISPLAY": f":{number.decode().strip()}"}, [proc])
