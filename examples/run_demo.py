"""The Python entry of `scripts/demo`: prepare a keychain and a display, run the demo client,
then show what the CLI sees (`mcp-secrets list` and `doctor`).

Modes:
  --headless     (default; always under CI) a private D-Bus session, an unlocked gnome-keyring
                 and Xvfb, all thrown away afterwards; a robot plays the human with xdotool.
  --interactive  your own display: you type the key into the dialog. Uses your session
                 keychain when it works, else a private one.
  --no-display   a private keychain and no display: the helpful failure, then `mcp-secrets set`.
  --browser      a private keychain and no display, but a client that can open a URL: the key
                 is typed into a one-time page on 127.0.0.1 (headless Chromium plays the human).

Your real keychain is never touched except with --interactive (and then only the entry
`api_key` of server "Weather Demo", which `mcp-secrets delete` removes).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from tests import rig  # noqa: E402  (the same real components the tests use)

SERVER_NAME = "Weather Demo"


def _session_keychain_works() -> bool:
    from mcp_secrets import selection

    return os.environ.get("DBUS_SESSION_BUS_ADDRESS") is not None and \
        selection.diagnose().backend == "secret-service"


def _start(mode: str) -> list[rig.Component]:
    """Private components for this run; their environment is exported to every child."""
    components: list[rig.Component] = []
    keep_session = mode == "interactive" and _session_keychain_works()
    if not keep_session:
        home = rig.private_home()
        os.environ.update(home)
        os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        for var in ("MCP_SECRETS_BACKEND", "MCP_SECRETS_PASSPHRASE", "SECRETS_STORAGE_CLEAR",
                    "MCP_BYPASS_SECRET_USE_CONFIRM", "MCP_SECRETS_DIALOG"):
            os.environ.pop(var, None)
        print(f"demo: private HOME {home['HOME']}; starting a private D-Bus session and an "
              "unlocked gnome-keyring", flush=True)
        components.append(rig.start_secret_service(home))
        os.environ.update(components[-1].env)
    else:
        print("demo: using your session keychain", flush=True)
    if mode == "headless":
        os.environ.pop("WAYLAND_DISPLAY", None)
        components.append(rig.start_xvfb())
        os.environ.update(components[-1].env)
        print(f"demo: started Xvfb on {os.environ['DISPLAY']} for the dialog", flush=True)
    elif mode in ("no-display", "browser"):
        os.environ.pop("DISPLAY", None)
        os.environ.pop("WAYLAND_DISPLAY", None)
    return components


def _cli(*args: str) -> None:
    print(f"\n$ mcp-secrets {shlex.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "mcp_secrets.cli", *args], check=False, timeout=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="mcp-secrets: the main job, end to end")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--headless", action="store_true")
    group.add_argument("--interactive", action="store_true")
    group.add_argument("--no-display", action="store_true")
    group.add_argument("--browser", action="store_true")
    args = p.parse_args(argv)
    mode = ("interactive" if args.interactive else "no-display" if args.no_display
            else "browser" if args.browser else "headless")
    if mode == "interactive" and os.environ.get("CI"):
        print("demo: CI is set: running headless instead of --interactive", flush=True)
        mode = "headless"
    if mode == "interactive" and not (os.environ.get("DISPLAY") or
                                      os.environ.get("WAYLAND_DISPLAY")):
        print("demo: --interactive needs a display (DISPLAY is not set); try --headless",
              file=sys.stderr)
        return 2
    components: list[rig.Component] = []
    try:
        components = _start(mode)
        import demo_client

        client_args = {"no-display": ["--no-display"], "browser": ["--browser"],
                       "interactive": ["--human", "person"]}.get(mode, ["--human", "robot"])
        rc = demo_client.main(client_args)
        _cli("list", SERVER_NAME)
        _cli("doctor")
        return rc
    except rig.MissingComponent as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for comp in reversed(components):
            comp.stop()


if __name__ == "__main__":
    sys.exit(main())
