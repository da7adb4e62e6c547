"""fetch_secrets: collect missing secrets through the out-of-band dialog, never the chat.

The dialog shows a verification code; the MCP client shows the same code in a form-mode
question that carries nothing but that code and Continue/Cancel (the spec forbids asking for
credentials in form mode). Values are stored only when the dialog returned them *and* the
human chose Continue. Three ways to run, picked from what the client declared:

- handshake era + form elicitation: dialog and `ctx.elicit` race concurrently;
- 2026-07-28 era: the first leg starts the dialog and returns the question
  (`InputRequiredResult`); the retry finds the running dialog by a flow id in the sealed
  request_state and awaits it;
- no elicitation: the dialog alone, with progress through `ctx.info`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp_secrets import audit
from mcp_secrets.capabilities import form_elicitation_supported, is_modern
from mcp_secrets.errors import (
    DialogCancelled,
    DialogError,
    DialogTimeout,
    NoDisplayError,
    SecretsError,
)
from mcp_secrets.names import validate_name
from mcp_secrets.verification import new_code

if TYPE_CHECKING:
    from mcp_secrets.dialog.launcher import AsyncUIHandler, DialogSession
    from mcp_secrets.dialog.protocol import Template
    from mcp_secrets.manager import MCPSecretsManager

CONTINUE = "Continue"
CANCEL = "Cancel"
OPTIONS = [CONTINUE, CANCEL]
#: Seconds between "still waiting" notes while the human types.
PROGRESS_EVERY = 15.0
#: On 2026-07-28 the question leaves with the first leg; a dialog that fails at once (no
#: display) is caught within this grace, so the human is not shown a code for nothing.
EARLY_EXIT_GRACE = 0.3
#: 2026-07-28: how long past its deadline a dialog's outcome waits for the client's retry.
RESULT_GRACE = 60.0
_INFO_KEYS = {"label", "field_type", "required", "default", "placeholder", "help_text"}


# ------------------------------------------------------------------ templates and messages


def _normalize(secrets_info: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    if not isinstance(secrets_info, Mapping) or not secrets_info:
        raise ValueError(
            "secrets_info must be a non-empty dict of {name: {label, field_type, ...}}"
        )
    out: dict[str, dict[str, Any]] = {}
    for name, info in secrets_info.items():
        validate_name(name)
        if not isinstance(info, Mapping):
            raise ValueError(f"secrets_info[{name!r}] must be a dict, not {type(info).__name__}")
        unknown = sorted(set(info) - _INFO_KEYS)
        if unknown:
            raise ValueError(
                f"secrets_info[{name!r}] has unknown key {unknown[0]!r}; allowed: "
                f"{', '.join(sorted(_INFO_KEYS))}"
            )
        out[name] = dict(info)
    return out


def build_template(
    server: str, names: list[str], info: Mapping[str, Mapping[str, Any]], code: str
) -> Template:
    """The dialog template: title names the server, the description carries the code."""
    from mcp_secrets.dialog.protocol import Field, Template

    fields = [
        Field(
            name=n,
            label=info[n].get("label") or n,
            field_type=info[n].get("field_type", "password"),
            required=bool(info[n].get("required", True)),
            default=info[n].get("default"),
            placeholder=info[n].get("placeholder"),
            help_text=info[n].get("help_text"),
        )
        for n in names
    ]
    description = (
        f"Verification Code: {code}\n\n"
        f"Check that your MCP client shows the same code for {server} before you type "
        "anything here. If the codes differ, cancel: this window is not genuine."
    )
    return Template(title=f"MCP Secrets for {server}"[:200], fields=fields, description=description)


def _client_message(server: str, names: list[str], code: str) -> str:
    return (
        f"{server} needs {', '.join(names)}. A separate window titled 'MCP Secrets for {server}' "
        f"has opened. Verification code: {code} — enter your credentials there only if it shows "
        f"the same code. Choose {CONTINUE} when you have submitted it, or {CANCEL} to stop."
    )


def _manual_fix(server: str, names: list[str]) -> str:
    commands = "; ".join(f"mcp-secrets set {shlex.quote(server)} {shlex.quote(n)}" for n in names)
    return f"provide it another way by running `{commands}` in a terminal, then retry"


def _failure(exc: DialogError, server: str, names: list[str]) -> tuple[bool, str]:
    if isinstance(exc, NoDisplayError):
        return False, (
            f"No display is available for the credential dialog ({exc}). Nothing was stored; "
            + _manual_fix(server, names) + "."
        )
    if isinstance(exc, DialogCancelled):
        return False, f"Cancelled: {exc}. Nothing was stored."
    if isinstance(exc, DialogTimeout):
        return False, f"Timed out: {exc}. Nothing was stored."
    return False, f"The credential dialog failed: {exc}. Nothing was stored; " + _manual_fix(
        server, names
    ) + "."


def _no_display_now(handler: AsyncUIHandler) -> str | None:
    """Why our own dialog could not show a window here (its own check, run before it starts)."""
    from mcp_secrets.display import display_problem

    return display_problem() if handler.is_default_dialog else None


async def _info(ctx: Any, text: str) -> None:
    try:
        await ctx.info(text)
    except Exception:  # progress notes are best effort: a gone client must not fail the flow
        return


# ------------------------------------------------------------------ the entry point


async def fetch_secrets(
    ctx: Any,
    secrets_info: Mapping[str, Mapping[str, Any]],
    *,
    manager: MCPSecretsManager | None = None,
    handler: AsyncUIHandler | None = None,
) -> tuple[bool, str]:
    """Ask the human for the secrets in `secrets_info` that are not stored yet.

    Returns (True, message) once they are stored, or (False, message) saying why not and
    what to do; messages name secrets, never values. `secrets_info` is seed 001's
    `{name: {label, field_type, required, default, placeholder, help_text}}`.
    """
    from mcp_secrets.dialog.launcher import AsyncUIHandler

    if manager is None:
        from mcp_secrets.manager import secrets_manager

        manager = secrets_manager
    info = _normalize(secrets_info)
    server = manager.server_name
    missing = [n for n in info if not manager.secret_exists(n)]
    if not missing:
        return True, f"All requested secrets are already stored for {server}."
    handler = handler or AsyncUIHandler()
    if problem := _no_display_now(handler):
        return _failure(NoDisplayError(problem), server, missing)
    flow = _Flow(server, missing, info, manager, handler)
    if is_modern(ctx) and form_elicitation_supported(ctx):
        # Only a question needs the middleware; a client that cannot elicit gets the dialog.
        from mcp_secrets.integrations.fastmcp import require_middleware

        require_middleware(ctx)
        return await _modern(ctx, flow)
    if not await flow.wait_for_others(ctx):
        return True, f"All requested secrets are already stored for {server}."
    body = _handshake if form_elicitation_supported(ctx) and not is_modern(ctx) else _dialog_only
    return await flow.run(ctx, body)


#: Secrets being collected right now, by (server, name) -> the collecting flow's claim.
_COLLECTING: dict[tuple[str, str], asyncio.Future[None]] = {}


def _release(claim: asyncio.Future[None]) -> None:
    """End a claim (idempotent): waiting flows wake up and re-check the store."""
    if not claim.done():
        claim.set_result(None)
    for key in [k for k, f in _COLLECTING.items() if f is claim]:
        del _COLLECTING[key]


@dataclass
class _Flow:
    server: str
    names: list[str]
    info: dict[str, dict[str, Any]]
    manager: MCPSecretsManager
    handler: AsyncUIHandler

    async def wait_for_others(self, ctx: Any) -> bool:
        """Wait while another flow in this process collects any of our secrets (one window
        per secret, never two with different codes); then drop what it stored. False when
        nothing is left to collect."""
        loop = asyncio.get_running_loop()
        while True:
            busy = {
                f for n in self.names
                if (f := _COLLECTING.get((self.server, n))) is not None
                and not f.done() and f.get_loop() is loop
            }
            if not busy:
                break
            await _info(ctx, f"Another request is already collecting {', '.join(self.names)} "
                             "in a credential dialog; waiting for it to finish.")
            await asyncio.wait(busy)
        self.names = [n for n in self.names if not self.manager.secret_exists(n)]
        return bool(self.names)

    def claim(self) -> asyncio.Future[None]:
        """Mark our secrets as being collected until `_release` of the returned future."""
        claim: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for name in self.names:
            _COLLECTING[(self.server, name)] = claim
        return claim

    async def start(self) -> tuple[str, DialogSession]:
        code = new_code()
        session = await self.handler.start(build_template(self.server, self.names, self.info, code))
        return code, session

    async def run(self, ctx: Any, body: Any) -> tuple[bool, str]:
        """Start a dialog, run `body(ctx, flow, code, session)`, always close the dialog."""
        claim = self.claim()
        try:
            try:
                code, session = await self.start()
            except DialogError as exc:
                return _failure(exc, self.server, self.names)
            try:
                result: tuple[bool, str] = await body(ctx, self, code, session)
                return result
            except DialogError as exc:
                return _failure(exc, self.server, self.names)
            finally:
                await session.close()
        finally:
            _release(claim)

    def store(self, values: Mapping[str, str]) -> tuple[bool, str]:
        stored = []
        try:
            for name in self.names:
                value = values.get(name)
                if value:
                    self.manager.store_secret(name, value)
                    audit.record("collect", server=self.server, name=name, outcome="stored")
                    stored.append(name)
        except SecretsError as exc:
            return False, f"Could not store the secrets: {exc}"
        if not stored:
            return False, "The dialog returned no values; nothing was stored."
        return True, f"Stored {', '.join(stored)} for {self.server} in the keychain."


async def _await_dialog(
    ctx: Any, session: DialogSession, code: str, task: asyncio.Future[dict[str, str]] | None = None
) -> dict[str, str]:
    """Wait for the dialog, telling the client every PROGRESS_EVERY seconds that we still are.

    Leaving early (cancellation) cancels `session.wait()`, which kills the dialog.
    """
    task = task or asyncio.ensure_future(session.wait())
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=PROGRESS_EVERY)
            if done:
                return task.result()
            left = max(0, int(session.deadline - asyncio.get_running_loop().time()))
            await _info(
                ctx, f"Still waiting for the credential dialog (code {code}); {left} s left."
            )
    finally:
        if not task.done():
            task.cancel()


def _continued(task: asyncio.Future[Any]) -> bool:
    """Did the human choose Continue in the client? Errors and anything else mean no."""
    if task.cancelled() or task.exception() is not None:
        return False
    answer = task.result()
    return getattr(answer, "action", None) == "accept" and getattr(answer, "data", None) == CONTINUE


async def _handshake(ctx: Any, flow: _Flow, code: str, session: DialogSession) -> tuple[bool, str]:
    """Dialog and `ctx.elicit` side by side; the seed 002 races resolved one by one."""
    message = _client_message(flow.server, flow.names, code)
    dialog = asyncio.ensure_future(session.wait())
    elicit = asyncio.ensure_future(ctx.elicit(message, list(OPTIONS)))
    loop = asyncio.get_running_loop()
    try:
        done, _ = await asyncio.wait({dialog, elicit}, return_when=asyncio.FIRST_COMPLETED)
        if elicit in done:
            if not _continued(elicit):
                return False, "Cancelled in the MCP client; the dialog was closed, nothing stored."
            await _info(ctx, f"Waiting for you to submit the credential dialog (code {code}).")
            return flow.store(await _await_dialog(ctx, session, code, dialog))
        values = dialog.result()  # raises DialogCancelled etc. if the dialog did not collect
        left = max(0.0, session.deadline - loop.time())
        done, _ = await asyncio.wait({elicit}, timeout=left)
        if not done:
            return False, "Nobody chose Continue in the MCP client in time; nothing was stored."
        if not _continued(elicit):
            return False, "Cancelled in the MCP client; nothing was stored."
        return flow.store(values)
    finally:
        for task in (dialog, elicit):
            if not task.done():
                task.cancel()


async def _dialog_only(
    ctx: Any, flow: _Flow, code: str, session: DialogSession
) -> tuple[bool, str]:
    """For clients that cannot elicit: the dialog alone, bounded by its timeout."""
    await _info(
        ctx,
        f"{flow.server} opened a window titled 'MCP Secrets for {flow.server}' to collect "
        f"{', '.join(flow.names)}. Verification code: {code}.",
    )
    return flow.store(await _await_dialog(ctx, session, code))


# ------------------------------------------------------------------ 2026-07-28 flows


@dataclass
class _Running:
    id: str
    code: str
    session: DialogSession
    claim: asyncio.Future[None]


_RUNNING: dict[str, _Running] = {}


def _forget(running: _Running) -> None:
    _RUNNING.pop(running.id, None)
    _release(running.claim)


def _flow_key(flow: _Flow) -> str:
    digest = hashlib.sha256("\0".join([flow.server, *sorted(flow.names)]).encode()).hexdigest()
    return digest[:16]


def _register(running: _Running) -> None:
    """Keep a started dialog findable by the retry until it ends; then drop it (a flow that
    is never retried is reaped by the dialog's own timeout)."""
    _RUNNING[running.id] = running

    def drop(_session: DialogSession) -> None:
        # Keep a finished dialog's outcome for the retry until the deadline, plus a grace so
        # a retry that arrives just after a timeout hears "timed out", not a fresh dialog.
        # Other flows waiting for these secrets get their turn at the deadline.
        loop = asyncio.get_running_loop()
        delay = max(0.0, running.session.deadline - loop.time())
        loop.call_later(delay, _release, running.claim)
        loop.call_later(delay + RESULT_GRACE, expire)

    def expire() -> None:
        if _RUNNING.get(running.id) is running:  # never retried
            _forget(running)

    running.session.add_done_callback(drop)


async def _modern(ctx: Any, flow: _Flow) -> tuple[bool, str]:
    from mcp_secrets.integrations import fastmcp as glue

    key = _flow_key(flow)
    flow_id = glue.incoming_state(ctx)["flows"].get(key)
    running = _RUNNING.get(flow_id) if flow_id else None
    answer = await glue.response_for(ctx, f"mcp_secrets.fetch:{flow_id}") if flow_id else None
    if answer is not None and glue.chosen(answer, OPTIONS) != CONTINUE:
        if running is not None:
            _forget(running)
            await running.session.close()
        return False, "Cancelled in the MCP client; the dialog was closed, nothing stored."
    if running is None or answer is None:
        if running is None:  # first leg, or the flow expired: start (over) cleanly
            if not await flow.wait_for_others(ctx):
                return True, f"All requested secrets are already stored for {flow.server}."
            claim = flow.claim()
            try:
                code, session = await flow.start()
            except DialogError as exc:
                _release(claim)
                return _failure(exc, flow.server, flow.names)
            running = _Running(secrets.token_urlsafe(12), code, session, claim)
            failed = await _failed_at_once(session)
            if failed is not None:
                _release(claim)
                await session.close()
                return _failure(failed, flow.server, flow.names)
            _register(running)
        await glue.ask(
            ctx,
            f"mcp_secrets.fetch:{running.id}",
            _client_message(flow.server, flow.names, running.code),
            glue.choice_schema(OPTIONS),
            flows={key: running.id},
        )
    _RUNNING.pop(running.id, None)
    try:
        await _info(ctx, f"Waiting for you to submit the credential dialog (code {running.code}).")
        return flow.store(await _await_dialog(ctx, running.session, running.code))
    except DialogError as exc:
        return _failure(exc, flow.server, flow.names)
    finally:
        await running.session.close()
        _release(running.claim)


async def _failed_at_once(session: DialogSession) -> DialogError | None:
    """The dialog's error if it gave up within EARLY_EXIT_GRACE (e.g. no display), else None."""
    if not await session.wait_exit(EARLY_EXIT_GRACE):
        return None
    try:
        await session.wait()
    except DialogError as exc:
        return exc
    return None
