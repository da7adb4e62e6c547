"""`mcp-secrets doctor`: which store, why, does it really work, can the dialog show, what to fix.

"Does it work" is a real round-trip (write, read back, delete) of a throwaway entry under a
doctor-only service, because a keychain can exist and still be locked or broken.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import secrets
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mcp_secrets import config
from mcp_secrets.cli.errors import EXIT_FAILURE, EXIT_OK

if TYPE_CHECKING:
    from mcp_secrets.selection import Diagnosis

DOCTOR_SERVICE = "com.mcp-secrets.doctor"
ROUNDTRIP_TIMEOUT_S = 30.0
TK_PROBE_TIMEOUT_S = 15.0


@dataclass
class RoundTrip:
    ok: bool
    detail: str
    backend: str | None = None
    description: str | None = None
    ms: float | None = None


def _describe_exc(exc: BaseException) -> str:
    from mcp_secrets.errors import SecretsError

    # Our own errors are written to be shown; anything else may quote a value, so name it only.
    return str(exc) if isinstance(exc, SecretsError) else f"{type(exc).__name__} from the store"


def roundtrip(choice: str | None = None) -> RoundTrip:
    """Write, read back and delete a random value under the doctor-only service, in the store
    `choice` names (--backend), else the default one."""
    result: list[RoundTrip] = []

    def work() -> None:
        try:
            result.append(_roundtrip(choice))
        except Exception as exc:
            result.append(RoundTrip(False, _describe_exc(exc)))

    thread = threading.Thread(target=work, name="doctor-roundtrip", daemon=True)
    thread.start()
    thread.join(ROUNDTRIP_TIMEOUT_S)
    if not result:
        return RoundTrip(False, f"the store did not answer within {ROUNDTRIP_TIMEOUT_S:.0f} s "
                                "(a locked keychain waiting for a prompt, or a stuck D-Bus)")
    return result[0]


def _forget_probe_file(backend: Any) -> None:
    """Remove the encrypted store's doctor-only file once empty: left behind, it would be
    sealed with today's passphrase and make a later doctor run after a passphrase change
    report "wrong passphrase" although the user's real stores open fine."""
    path_for = getattr(backend, "path_for", None)
    if path_for is not None and not backend.keys(DOCTOR_SERVICE):
        path_for(DOCTOR_SERVICE).unlink(missing_ok=True)


def _roundtrip(choice: str | None) -> RoundTrip:
    from mcp_secrets.errors import KeychainLockedError, ReadOnlyStoreError
    from mcp_secrets.selection import default_backend

    backend = default_backend(choice)
    key = f"probe-{secrets.token_hex(6)}"
    value = secrets.token_urlsafe(24)
    start = time.perf_counter()
    try:
        backend.set(DOCTOR_SERVICE, key, value)
        read = backend.get(DOCTOR_SERVICE, key)
    except KeychainLockedError as exc:
        return RoundTrip(False, f"locked: {exc}", backend.name, backend.describe())
    except ReadOnlyStoreError:  # e.g. 1Password through a service account: reading must work
        backend.get(DOCTOR_SERVICE, key)
        return RoundTrip(True, "read-only store: a read worked (writes are refused)",
                         backend.name, backend.describe())
    finally:
        # The write may have failed; then there is nothing to clean up.
        with contextlib.suppress(Exception):
            backend.delete(DOCTOR_SERVICE, key)
            _forget_probe_file(backend)
    gone = backend.get(DOCTOR_SERVICE, key) is None
    ms = (time.perf_counter() - start) * 1000
    if read != value:
        return RoundTrip(False, "wrote a test entry but read back something else",
                         backend.name, backend.describe(), ms)
    if not gone:
        return RoundTrip(False, "the test entry survived its deletion",
                         backend.name, backend.describe(), ms)
    return RoundTrip(True, "wrote, read back and deleted a test entry",
                     backend.name, backend.describe(), ms)


_TK_PROBE = (
    "import tkinter, sys\n"
    "print(tkinter.TkVersion, flush=True)\n"
    "try:\n"
    "    r = tkinter.Tk(); r.withdraw(); r.destroy()\n"
    "except tkinter.TclError as e:\n"
    "    print('NO:' + str(e).splitlines()[0]); sys.exit(3)\n"
    "print('OK')\n"
)


def display_check() -> dict[str, Any]:
    """Can the credential dialog appear? (a display variable, Tk, and Tk actually connecting)

    The probe runs in an isolated interpreter, as the dialog does: a ``tkinter.py`` in the
    current directory must not run (nor fake a working display).
    """
    from mcp_secrets import config
    from mcp_secrets.children import child_environ, python_code_command
    from mcp_secrets.display import display_problem

    info: dict[str, Any] = {
        "DISPLAY": config.DISPLAY.get(),
        "WAYLAND_DISPLAY": config.WAYLAND_DISPLAY.get(),
        "dialog_override": config.DIALOG.get(),
        "tk_version": None,
        "tk_opens_display": False,
        "detail": "",
        **_window_kind(),
    }
    problem = display_problem()
    if problem:
        info["detail"] = f"{problem}: the dialog cannot appear"
    try:
        proc = subprocess.run(python_code_command(_TK_PROBE), capture_output=True,
                              text=True, timeout=TK_PROBE_TIMEOUT_S, env=child_environ())
    except subprocess.TimeoutExpired:
        info["detail"] = info["detail"] or "Tk hung while opening the display"
        return info
    lines = proc.stdout.split()
    if lines and lines[0][:1].isdigit():
        info["tk_version"] = lines[0]
    if proc.returncode == 0 and not problem:
        info["tk_opens_display"] = True
        info["detail"] = "Tk opens the display"
    elif info["tk_version"] is None:
        info["detail"] = "tkinter is not importable (install python3-tk / a Python built with Tk)"
    elif not info["detail"]:
        info["detail"] = "Tk could not open the display: " + proc.stdout.partition("NO:")[2].strip()
    return info


def _window_kind() -> dict[str, Any]:
    """Which window the dialog would open here (Tk, zenity, kdialog, osascript, PowerShell)."""
    from mcp_secrets.dialog import kinds
    from mcp_secrets.errors import DialogError

    try:
        sel = kinds.choose()
    except DialogError as exc:
        return {"kind": None, "kind_reason": str(exc), "kind_steps": []}
    return {"kind": sel.kind, "kind_reason": sel.reason, "kind_steps": sel.steps}


def damage_check(choice: str | None = None) -> list[dict[str, str]]:
    """Servers whose index disagrees with the store (ghosts, unlisted secrets, orphan chunks,
    an unreadable index), each with the command that repairs it. Changes nothing."""
    from mcp_secrets.cli.commands import describe_repair, open_storage, servers_in_store
    from mcp_secrets.storage import MCPSecretsStorage

    found: list[dict[str, str]] = []
    for server in servers_in_store(choice) or []:
        try:
            report = open_storage(server, profile="default", backend=choice).check()
        except Exception as exc:
            found.append({"server": server, "found": _describe_exc(exc),
                          "fix": f"mcp-secrets repair {server}"})
            continue
        if MCPSecretsStorage.damaged(report):
            found.append({"server": server, "found": describe_repair(report),
                          "fix": f"mcp-secrets repair {server}"})
    return found


def _fix(diag: Diagnosis, rt: RoundTrip) -> str | None:
    if rt.ok:
        return None
    if diag.fix:
        return diag.fix
    if rt.detail.startswith("locked:"):
        return ("unlock the keyring as said above; the encrypted file store is not used in its "
                "place (it would be a separate store without these secrets)")
    return (
        "start or unlock your desktop keychain (gnome-keyring / KWallet), or set "
        "MCP_SECRETS_PASSPHRASE to use the encrypted file store"
    )


def _display_fix(display: dict[str, Any]) -> str | None:
    if display["dialog_override"] or (display["kind"] or "tk") != "tk":
        return None
    if display["tk_opens_display"]:
        return None
    return ("without a display the dialog cannot open: MCP clients that can open a link "
            "(URL-mode elicitation) get a one-time browser page on 127.0.0.1 instead; for the "
            "others store secrets with `mcp-secrets set SERVER NAME`, or run under a desktop "
            "session / Xvfb")


def cmd_doctor(args: argparse.Namespace) -> int:
    from mcp_secrets.selection import diagnose

    choice = getattr(args, "backend", None)
    diag = diagnose(choice)
    # With no store chosen there is nothing to test; the diagnosis already says why.
    rt = roundtrip(choice) if diag.backend else RoundTrip(False, "no store was chosen")
    display = display_check()
    damage = damage_check(choice) if rt.ok else []
    report: dict[str, Any] = {
        "ok": rt.ok,
        "backend": rt.backend or diag.backend,
        "description": rt.description,
        "reason": diag.reason,
        "steps": diag.steps,
        "usable": rt.ok,
        "roundtrip": asdict(rt),
        "fix": _fix(diag, rt),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": platform.platform(),
        "display": display,
        "display_fix": _display_fix(display),
        "backend_override": choice or _backend_override(),
        "backend_override_from": ("--backend" if choice
                                  else config.BACKEND.name if config.BACKEND.get() else None),
        "damage": damage,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_human(report)
    return EXIT_OK if rt.ok else EXIT_FAILURE


def _backend_override() -> str | None:
    """MCP_SECRETS_BACKEND as doctor shows it: a known store name, or a note that it is set
    to something else (not quoted: a value pasted into the wrong variable stays private)."""
    from mcp_secrets import config
    from mcp_secrets.selection import valid_backends

    raw = config.BACKEND.get()
    if raw is None:
        return None
    return raw if raw.lower() in valid_backends() else "(set, but to no known store name)"


def _print_human(r: dict[str, Any]) -> None:
    rt = r["roundtrip"]
    lines = [f"backend:  {r['backend'] or 'none'}"
             + (f"  ({r['description']})" if r["description"] else "")]
    lines.append(f"why:      {r['reason']}")
    lines += [f"          - {step}" for step in r["steps"]]
    if r["backend_override"]:
        sep = " " if r["backend_override_from"] == "--backend" else "="
        lines.append(f"override: {r['backend_override_from']}{sep}{r['backend_override']}")
    timing = f" in {rt['ms']:.1f} ms" if rt["ms"] is not None else ""
    lines.append(f"usable:   {'yes' if rt['ok'] else 'NO'} — {rt['detail']}{timing}")
    py = r["python"]
    lines.append(f"python:   {py['implementation']} {py['version']} ({py['executable']})")
    lines.append(f"platform: {r['platform']}")
    d = r["display"]
    shown = d["DISPLAY"] or d["WAYLAND_DISPLAY"] or "unset"
    tk = f"Tk {d['tk_version']}" if d["tk_version"] else "no Tk"
    lines.append(f"dialog:   display {shown}, {tk}: {d['detail']}")
    lines.append(f"window:   {d['kind'] or 'none'} ({d['kind_reason']})")
    lines += [f"          - {step}" for step in d["kind_steps"]]
    if d["dialog_override"]:
        lines.append(f"          MCP_SECRETS_DIALOG={d['dialog_override']} (used instead)")
    if r["fix"]:
        lines.append(f"fix:      {r['fix']}")
    if r["display_fix"]:
        lines.append(f"dialog fix: {r['display_fix']}")
    for hurt in r["damage"]:
        lines.append(f"damage:   {hurt['server']}: {hurt['found']}; run `{hurt['fix']}`")
    lines.append("verdict:  " + ("OK — secrets can be stored and read" if r["ok"]
                                 else "NOT USABLE — see fix above"))
    print("\n".join(lines))
