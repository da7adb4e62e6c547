"""Drive examples/weather_server.py with a real MCP client (fastmcp.Client over stdio), on the
handshake era (`mode="legacy"`) and on the stateless 2026-07-28 era, and print what a person
would see: the verification code in the client, the same code in the dialog, the permission
question, where the key was stored, the tool result — and a final check that the key crossed
the MCP connection nowhere (tool results, elicitation messages, log notifications).

    python examples/demo_client.py --human robot    # headless: the robot fills the real dialog
    python examples/demo_client.py --human person   # you type the key into the dialog
    python examples/demo_client.py --no-display     # no dialog possible: the CLI fallback
    python examples/demo_client.py --browser        # no display: the key goes in a browser page

Usually started by `scripts/demo`, which prepares a private keychain and display first.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVER_SCRIPT = HERE / "weather_server.py"
SERVER_NAME = "Weather Demo"
SECRET = "api_key"
ARTIFACTS = REPO / "artifacts"
ERAS = ("legacy", "2026-07-28")
CODE_RE = re.compile(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b")
PREFERRED = ("Continue", "Allow for session", "Allow")
CHROMIUM = "/usr/bin/chromium"  # Debian's, driven headless by Playwright (scripts/setup installs)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def say(who: str, text: str) -> None:
    print(f"[{who:>7}] {text}", flush=True)


@dataclass
class Demo:
    human: str  # "robot" or "person"
    env: dict[str, str]
    key: str | None  # the robot's key (a person's key is only ever read back from the store)
    witness_dir: Path | None
    conversation: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    robot_jobs: list[asyncio.Task[Any]] = field(default_factory=list)
    seen_witness: set[str] = field(default_factory=set)
    era: str = ""

    def check(self, label: str, ok: bool) -> bool:
        self.checks.append((f"{self.era or 'final'}: {label}", ok))
        say("check", f"{'PASS' if ok else 'FAIL'}  {label}")
        return ok

    # ------------------------------------------------------------ the MCP client's UI

    async def on_elicit(self, message: str, response_type: Any, params: Any, context: Any
                        ) -> Any:
        """What the person sees in their MCP client, and the answer they give."""
        self.conversation.append(message)
        if getattr(params, "mode", None) == "url":
            return await self.on_url(message, params.url)
        say("client", f"asks the human: {message}")
        schema = getattr(params, "requested_schema", None) or {}
        options = schema.get("properties", {}).get("value", {}).get("enum") or []
        code = CODE_RE.search(message)
        if code:
            self.check(f"verification code in the client message: {code.group(0)}", True)
            if self.human == "robot":
                self.robot_jobs.append(asyncio.ensure_future(self._robot(code.group(0))))
            else:
                say("human", f"look at the dialog: it must show {code.group(0)}; type the key "
                             "there and press Enter")
        choice = next((o for o in PREFERRED if o in options), options[0] if options else None)
        say("human", f"answers {choice!r}")
        return {"value": choice} if choice is not None else {}

    async def on_url(self, message: str, url: str) -> Any:
        """A URL-mode question: the client shows the full address and asks before opening it;
        the human (here headless Chromium) types the key into that page, never the chat."""
        from fastmcp.client.elicitation import ElicitResult

        say("client", f"asks the human: {message}")
        say("client", f"  open {url} ?")
        code = CODE_RE.search(message)
        self.check("verification code in the client message", code is not None)
        if code is not None:
            self.robot_jobs.append(asyncio.ensure_future(self._browser(url, code.group(0))))
        say("human", "answers 'Open'")
        return ElicitResult(action="accept")

    async def _browser(self, url: str, client_code: str) -> None:
        from playwright.async_api import async_playwright

        assert self.key is not None
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                await page.goto(url)
                source = await page.content()
                say("browser", f"page {await page.title()!r} asks for the code the client shows")
                self.check("the page does not show the client's code (whoever learns the "
                           "address cannot read it there)",
                           client_code not in source and client_code.replace("-", "")
                           not in source)
                await page.fill("#code", client_code)
                say("browser", f"the human types the client's code {client_code} on the page")
                await page.fill("#field-0", self.key)
                shot = ARTIFACTS / f"demo-page-{self.era}.png"
                await page.screenshot(path=str(shot))
                async with page.expect_navigation():
                    await page.click("#submit")
                say("browser", f"typed the key into the page and sent it; screenshot {shot}; "
                               f"the page now says: {await page.inner_text('#message')}")
            finally:
                await browser.close()

    async def on_log(self, message: Any) -> None:
        data = getattr(message, "data", message)
        text = str(data.get("msg", data) if isinstance(data, dict) else data)
        self.conversation.append(text)
        say("client", f"server log: {text}")

    async def _robot(self, client_code: str) -> None:
        from dialog_robot import fill_dialog

        assert self.witness_dir is not None and self.key is not None
        shot = ARTIFACTS / ("demo-dialog.png" if self.era == "legacy"
                            else f"demo-dialog-{self.era}.png")
        report = await asyncio.to_thread(fill_dialog, client_code, self.key, self.witness_dir,
                                         self.seen_witness, shot)
        say("dialog", f"window {report.window_title!r} shows code {report.dialog_code}")
        self.check(f"dialog code {report.dialog_code} == client code {client_code}",
                   report.dialog_code == client_code)
        say("robot", report.note + (f"; screenshot {report.screenshot}" if report.screenshot
                                    else ""))

    # ------------------------------------------------------------ one era

    async def call(self, mode: str, calls: list[tuple[str, dict[str, str]]]) -> list[Any]:
        from fastmcp import Client
        from fastmcp.client.transports import StdioTransport

        ARTIFACTS.mkdir(exist_ok=True)
        transport = StdioTransport(sys.executable, [str(SERVER_SCRIPT)], env=self.env,
                                   cwd=str(REPO), log_file=ARTIFACTS / "demo-server.log",
                                   keep_alive=False)
        results = []
        async with Client(transport, mode=mode, elicitation_handler=self.on_elicit,
                          log_handler=self.on_log) as client:
            for tool, args in calls:
                say("client", f"calls {tool}({args}) over MCP, protocol {mode}")
                result = await client.call_tool(tool, args, raise_on_error=False)
                text = " ".join(getattr(c, "text", "") for c in result.content)
                self.conversation.append(text)
                say("server", ("TOOL ERROR: " if result.is_error else "result: ") + text)
                results.append(result)
                jobs, self.robot_jobs = self.robot_jobs, []
                await asyncio.gather(*jobs)
        return results


def _storage() -> Any:
    from mcp_secrets.storage import MCPSecretsStorage

    return MCPSecretsStorage(SERVER_NAME)


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def run_eras(demo: Demo, eras: tuple[str, ...], collect: bool) -> None:
    storage = _storage()
    for mode in eras:
        demo.era = mode
        print(f"\n=== MCP protocol era: {mode} ===", flush=True)
        if collect:
            storage.delete_secret(SECRET)
            say("demo", f"no {SECRET} stored for {SERVER_NAME!r}: this era must collect it")
        forecast, alerts = await demo.call(mode, [("get_forecast", {"city": "Lisbon"}),
                                                   ("get_alerts", {"region": "Lisbon"})])
        demo.check("get_forecast succeeded", not forecast.is_error)
        demo.check("get_alerts (one-line requires_secret) succeeded", not alerts.is_error)
        say("demo", f"{SECRET} is stored in: {storage.backend.name} "
                    f"({storage.backend.describe()})")
        demo.check(f"{SECRET} is in the store", storage.secret_exists(SECRET))


async def run_no_display(demo: Demo) -> None:
    """No display: the tool fails helpfully, the human uses the CLI, the tool then works."""
    storage = _storage()
    storage.delete_secret(SECRET)
    demo.era = "no display"
    print("\n=== no display: the dialog cannot appear ===", flush=True)
    (first,) = await demo.call("legacy", [("get_forecast", {"city": "Lisbon"})])
    text = " ".join(getattr(c, "text", "") for c in first.content)
    demo.check("the tool failed without a display", first.is_error)
    demo.check("the failure tells the user to run `mcp-secrets set`", "mcp-secrets set" in text)
    assert demo.key is not None
    say("human", f"$ mcp-secrets set '{SERVER_NAME}' {SECRET}    (key piped on stdin)")
    proc = subprocess.run([sys.executable, "-m", "mcp_secrets.cli", "set", SERVER_NAME, SECRET],
                          input=demo.key + "\n", capture_output=True, text=True, env=demo.env,
                          timeout=120, check=False)
    say("cli", (proc.stdout + proc.stderr).strip())
    demo.check("mcp-secrets set stored the key", proc.returncode == 0)
    await run_eras(demo, ERAS, collect=False)


def final_checks(demo: Demo) -> bool:
    demo.era = ""
    print("\n=== final checks ===", flush=True)
    stored = _storage().retrieve_secret(SECRET)
    demo.check("a key is stored", stored is not None)
    if demo.key is not None and stored is not None:
        demo.check("the stored key is the one the human typed (compared by SHA-256)",
                   _fingerprint(stored) == _fingerprint(demo.key))
    candidates = {k for k in (stored, demo.key) if k}
    leaked = [t for t in demo.conversation if any(k in t for k in candidates)]
    demo.check(f"the key appears nowhere in the conversation ({len(demo.conversation)} "
               "messages: tool results, elicitations, log notifications)", not leaked)
    log = ARTIFACTS / "demo-server.log"
    log_text = log.read_text(errors="replace") if log.exists() else ""
    demo.check("the key is not in the server's log", not any(k in log_text for k in candidates))
    ok = all(passed for _, passed in demo.checks)
    print(f"\nDEMO {'PASSED' if ok else 'FAILED'}: "
          f"{sum(p for _, p in demo.checks)}/{len(demo.checks)} checks", flush=True)
    return ok


def build_demo(human: str) -> Demo:
    env = dict(os.environ)
    key = None
    witness_dir = None
    if human == "robot":
        key = "demo-" + secrets.token_urlsafe(18)
        env["WEATHER_API_KEY_SHA256"] = _fingerprint(key)  # the fake API knows only the hash
        witness_dir = Path(tempfile.mkdtemp(prefix="mcp-secrets-demo-witness-"))
        env["DEMO_DIALOG_WITNESS_DIR"] = str(witness_dir)
        env["MCP_SECRETS_DIALOG"] = f"{sys.executable} {HERE / 'dialog_witness.py'}"
        env.setdefault("MCP_SECRETS_DIALOG_TIMEOUT", "120")
    return Demo(human, env, key, witness_dir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--human", choices=("robot", "person"), default="robot")
    p.add_argument("--no-display", action="store_true",
                   help="show the no-display path: helpful failure, `mcp-secrets set`, retry")
    p.add_argument("--browser", action="store_true",
                   help="no display, a client that can open a URL: the key goes in a browser page")
    args = p.parse_args(argv)
    sys.path.insert(0, str(HERE))
    (ARTIFACTS / "demo-server.log").unlink(missing_ok=True)  # the log file is appended to
    demo = build_demo("robot" if args.no_display or args.browser else args.human)
    if args.browser:
        for var in ("DISPLAY", "WAYLAND_DISPLAY", "MCP_SECRETS_DIALOG", "MCP_SECRETS_COLLECT"):
            demo.env.pop(var, None)
        say("demo", "no display here: the server offers a one-time page on 127.0.0.1 instead")
        asyncio.run(run_eras(demo, ERAS, collect=True))
    elif args.no_display:
        demo.env.pop("DISPLAY", None)
        demo.env.pop("WAYLAND_DISPLAY", None)
        demo.env.pop("MCP_SECRETS_DIALOG", None)
        # This client could open a browser page (URL-mode elicitation), which is what a server
        # with no display offers by default; the window-only path shows the CLI fallback.
        demo.env["MCP_SECRETS_COLLECT"] = "window"
        asyncio.run(run_no_display(demo))
    else:
        if args.human == "person":
            say("demo", "a dialog titled 'MCP Secrets for Weather Demo' will open: type any key "
                        "(this demo's fake weather API accepts any non-empty key)")
        asyncio.run(run_eras(demo, ERAS, collect=True))
    return 0 if final_checks(demo) else 1


if __name__ == "__main__":
    sys.exit(main())
