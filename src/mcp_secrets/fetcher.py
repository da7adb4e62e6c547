"""fetch_secrets: collect missing secrets through the out-of-band dialog, never the chat.

The dialog shows a verification code; the MCP client shows the same code, in a form-mode
question that carries nothing but that code and Continue/Cancel (the spec forbids asking for
credentials in form mode) or, for a client that cannot be asked, in the tool's own result.
Three ways to run, picked from what the client can do on this connection:

- handshake era + elicitation: the window and `ctx.elicit` race; values are stored only when
  the window returned them *and* the human chose Continue;
- 2026-07-28: the first leg returns the question (`InputRequiredResult`); the window opens
  only once the human chose Continue (a client that declines by itself never flashes one);
- no elicitation (or a revision before 2025-06-18): the window opens and the call returns its
  code at once; the next call collects what the human entered.

Where no window can open (SSH, a container) and the client supports URL-mode elicitation, or
when MCP_SECRETS_COLLECT=url, the same template is served as a one-time page on 127.0.0.1 and
the client is sent there instead (`urlflow`).

No call waits for the human longer than MCP_SECRETS_CALL_BUDGET (below the 60 s request
timeout of common clients): a slow human gets "finish the window, then call again", the window
stays open, and the next call uses it (no second window, same code).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp_secrets import audit, elicitation, urlflow
from mcp_secrets.display import reason_of
from mcp_secrets.elicitation import Pending
from mcp_secrets.errors import (
    DialogCancelled,
    DialogError,
    DialogTimeout,
    NoDisplayError,
    SecretsError,
    TooManyWrongCodes,
)
from mcp_secrets.names import set_command, validate_name
from mcp_secrets.verification import new_code

if TYPE_CHECKING:
    from mcp_secrets.dialog.launcher import AsyncUIHandler, DialogSession
    from mcp_secrets.dialog.protocol import Template
    from mcp_secrets.manager import MCPSecretsManager
    from mcp_secrets.urlform import FormPage

CONTINUE = "Continue"
CANCEL = "Cancel"
OPTIONS = [CONTINUE, CANCEL]
#: A dialog that fails within this long (no display) is reported before anyone sees its code.
EARLY_EXIT_GRACE = 0.3
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
    server: str, names: list[str], info: Mapping[str, Mapping[str, Any]], code: str | None,
    *, where: str = "window",
) -> Template:
    """The dialog template: title names the server, the window's description carries the code.
    For the browser page (`where="page"`) the description names no code: anyone who learns a
    page's address can read the page, so there the human types the client's code instead."""
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
        f"Type the verification code your MCP client shows for {server}. If your client shows "
        "no such code, close this tab."
    ) if where == "page" else (
        f"Verification Code: {code}\n\n"
        f"Check that your MCP client shows the same code for {server} before you type "
        f"anything here. If the codes differ, cancel: this {where} is not genuine."
    )
    return Template(title=f"MCP Secrets for {server}"[:200], fields=fields, description=description)


def _client_message(server: str, names: list[str], code: str, *, opened: bool = True) -> str:
    where = (
        f"A separate window titled 'MCP Secrets for {server}' has opened"
        if opened
        else f"When you choose {CONTINUE}, a separate window titled 'MCP Secrets for {server}' "
        "will open"
    )
    return (
        f"{server} needs {', '.join(names)}. {where}. Verification code: {code} — enter your "
        f"credentials there only if it shows the same code. Choose {CONTINUE} to go on, or "
        f"{CANCEL} to stop."
    )


def _call_again(server: str, names: list[str], profile: str | None = None) -> str:
    return "call the tool again to start over, or " + _manual_fix(server, names, profile)


def _manual_fix(server: str, names: list[str], profile: str | None = None) -> str:
    commands = set_command(server, *names, profile=profile)
    return f"provide it another way by running `{commands}` in a terminal, then retry"


def _failure(
    exc: DialogError, server: str, names: list[str], profile: str | None = None
) -> tuple[bool, str]:
    if isinstance(exc, NoDisplayError):
        what = f"No display is available for the credential dialog ({reason_of(str(exc))})"
        next_step = _manual_fix
    elif isinstance(exc, DialogCancelled):
        what, next_step = f"Cancelled: {exc}", _call_again
    elif isinstance(exc, DialogTimeout):
        what, next_step = f"Timed out: {exc}", _call_again
    elif isinstance(exc, TooManyWrongCodes):
        what, next_step = f"Too many wrong verification codes: {exc}", _call_again
    else:
        what, next_step = f"The credential dialog failed: {exc}", _manual_fix
    return False, f"{what}. Nothing was stored; {next_step(server, names, profile)}."



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
    what to do next; messages name secrets, never values. `secrets_info` is the original API's
    `{name: {label, field_type, required, default, placeholder, help_text}}`.
    """
    from mcp_secrets.dialog.launcher import AsyncUIHandler

    if manager is None:
        from mcp_secrets.manager import secrets_manager

        manager = secrets_manager
    ctx = elicitation.adapt(ctx)
    info = _normalize(secrets_info)
    server = manager.server_name
    missing = [n for n in info if not await asyncio.to_thread(manager.secret_exists, n)]
    if not missing:
        return True, f"All requested secrets are already stored for {server}."
    until = asyncio.get_running_loop().time() + elicitation.call_budget()
    flow = _Flow(server, missing, info, manager, handler or AsyncUIHandler(), until)
    parked = elicitation.PENDING.get(flow.pending_key)
    if parked is not None:  # the human is still at the window an earlier call opened
        if urlflow.is_page(parked):
            return await urlflow.resume(ctx, flow, parked)
        return await flow.collect(ctx, parked)
    url = urlflow.wanted(ctx, flow.handler)
    if isinstance(url, str):  # a setting we cannot read
        return False, url
    if url:
        return await urlflow.collect(ctx, flow)
    if problem := elicitation.no_display_now(flow.handler):
        return _failure(NoDisplayError(problem), server, missing, manager.storage.profile)
    if elicitation.can_elicit(ctx) and elicitation.is_modern(ctx):
        # Only a question needs the middleware; a client that cannot elicit gets the window.
        elicitation.require_middleware(ctx)
        return await _modern(ctx, flow)
    body = _handshake if elicitation.can_elicit(ctx) else _window_first
    return await flow.run(ctx, body)


def field_info(name: str, *, label: str | None, field_type: str, required: bool,
               help_text: str | None, placeholder: str | None) -> dict[str, Any]:
    """The `secrets_info` entry a one-line `requires_secret` asks with (label from the name)."""
    validate_name(name)
    return {"label": label or name.replace("_", " ").title(), "field_type": field_type,
            "required": required, "help_text": help_text, "placeholder": placeholder}


async def obtain_secret(ctx: Any, name: str, info: Mapping[str, Any], *, reason: str | None,
                        manager: MCPSecretsManager | None = None) -> str:
    """What every framework's `requires_secret` does: collect the secret if it is missing,
    ask permission to use it, return its value. Failures are `SecretsError`s (with a message
    saying what to do) that the glue turns into its framework's tool error."""
    if manager is None:
        from mcp_secrets.manager import secrets_manager

        manager = secrets_manager
    if not await asyncio.to_thread(manager.secret_exists, name):
        ok, message = await fetch_secrets(ctx, {name: info}, manager=manager)
        if not ok:
            raise SecretsError(message)
    return await manager.retrieve_secret_with_permission(name, ctx, reason=reason)


#: Secrets being collected right now, by (server, name) -> the collecting flow's claim.
_COLLECTING: dict[tuple[str, str], asyncio.Future[None]] = {}


def _release(claim: asyncio.Future[None]) -> None:
    """End a claim (idempotent): waiting flows wake up and re-check the store."""
    if not claim.done():
        claim.set_result(None)
    for key in [k for k, f in _COLLECTING.items() if f is claim]:
        del _COLLECTING[key]


#: What `acquire` answers when another flow still holds our secrets as this call's budget ends.
BUSY = "busy"


@dataclass
class _Flow:
    server: str
    names: list[str]
    info: dict[str, dict[str, Any]]
    manager: MCPSecretsManager
    handler: AsyncUIHandler
    #: Event-loop time by which this call must return, human or not.
    until: float
    parked: bool = field(default=False)

    @property
    def pending_key(self) -> tuple[str, ...]:
        return ("fetch", self.server, *sorted(self.names))

    async def acquire(self, ctx: Any) -> asyncio.Future[None] | str | None:
        """Wait while another flow in this process collects any of our secrets (one window
        per secret, never two with different codes), drop what it stored, and claim the rest
        until `_release` of the returned future. None when nothing is left to collect; BUSY
        when another flow still holds them as this call's time runs out."""
        loop = asyncio.get_running_loop()
        while True:
            busy = {
                f for n in self.names
                if (f := _COLLECTING.get((self.server, n))) is not None
                and not f.done() and f.get_loop() is loop
            }
            if busy:
                await elicitation.note(ctx, f"Another request is already collecting "
                                       f"{', '.join(self.names)} in a credential dialog; waiting.")
                await asyncio.wait(busy, timeout=max(0.0, self.until - loop.time()))
            names = [
                n for n in self.names
                if not await asyncio.to_thread(self.manager.secret_exists, n)
            ]
            if not names:
                return None
            self.names = names
            still = any((f := _COLLECTING.get((self.server, n))) is not None and not f.done()
                        and f.get_loop() is loop for n in names)
            if still and loop.time() >= self.until:
                return BUSY
            if still:
                continue  # the store was read off the loop: someone may have claimed meanwhile
            claim: asyncio.Future[None] = loop.create_future()
            for name in self.names:  # no await since the last check: the claim is atomic
                _COLLECTING[(self.server, name)] = claim
            return claim

    async def start(
        self, code: str | None = None, *, page: bool = False
    ) -> tuple[str, DialogSession | FormPage]:
        """Open the window, or with `page` the one-time browser page, showing `code`."""
        code = code or new_code()
        if page:
            from mcp_secrets.urlform import FormPage

            template = build_template(self.server, self.names, self.info, None, where="page")
            return code, FormPage(template, code=code)
        session = await self.handler.start(build_template(self.server, self.names, self.info, code))
        return code, session

    async def run(
        self, ctx: Any, body: Any, code: str | None = None, *, page: bool = False
    ) -> tuple[bool, str]:
        """Claim our secrets, start a window (with `code`, or a fresh one; a browser page with
        `page`), run `body(ctx, flow, code, session)`; close it unless the body parked it."""
        claim = await self.acquire(ctx)
        if isinstance(claim, str):  # BUSY
            return False, (
                f"Another request is collecting {', '.join(self.names)} in a window right now; "
                "finish it, then call this tool again. Nothing was stored yet."
            )
        if claim is None:
            return True, f"All requested secrets are already stored for {self.server}."
        try:
            try:
                code, session = await self.start(code, page=page)
            except DialogError as exc:
                return self.failure(exc)
            try:
                result: tuple[bool, str] = await body(ctx, self, code, session)
                return result
            except DialogError as exc:
                return self.failure(exc)
            finally:
                if not self.parked:
                    await session.close()
        finally:
            _release(claim)

    def park(self, pending: Pending) -> tuple[bool, str]:
        """Keep the window open for the next call and tell the human so."""
        self.parked = True
        elicitation.keep_pending(self.pending_key, pending)
        return False, (
            f"The window titled 'MCP Secrets for {self.server}' (verification code "
            f"{pending.code}) is still open. Finish it, then call this tool again: what you "
            "enter there will be used, no second window opens. Nothing was stored yet."
        )

    async def collect(self, ctx: Any, pending: Pending) -> tuple[bool, str]:
        """Await an open window until this call's budget ends; store what it returns."""
        elicitation.PENDING.pop(self.pending_key, None)
        try:
            values = await elicitation.wait_window(ctx, pending, self.until)
        except DialogError as exc:
            await pending.session.close()
            return self.failure(exc)
        if values is None:
            return self.park(pending)
        await pending.session.close()
        return await self.store(values)

    def failure(self, exc: DialogError) -> tuple[bool, str]:
        return _failure(exc, self.server, self.names, self.manager.storage.profile)

    def call_again(self) -> str:
        return _call_again(self.server, self.names, self.manager.storage.profile)

    def manual_fix(self) -> str:
        return _manual_fix(self.server, self.names, self.manager.storage.profile)

    async def store(self, values: Mapping[str, str]) -> tuple[bool, str]:
        stored = []
        try:
            for name in self.names:
                value = values.get(name)
                if value:
                    await asyncio.to_thread(self.manager.store_secret, name, value)
                    audit.record("collect", server=self.server, name=name, outcome="stored")
                    stored.append(name)
        except SecretsError as exc:
            return False, f"Could not store the secrets: {exc}"
        if not stored:
            return False, "The dialog returned no values; nothing was stored."
        return True, (f"Stored {', '.join(stored)} for {self.server} "
                      f"({self.manager.storage.backend.name}).")


async def _handshake(ctx: Any, flow: _Flow, code: str, session: DialogSession) -> tuple[bool, str]:
    """The window and `ctx.elicit` side by side, with every race between the two resolved."""
    message = _client_message(flow.server, flow.names, code)
    exited = asyncio.ensure_future(session.wait_exit())
    question = asyncio.ensure_future(elicitation.ask_now(ctx, message, list(OPTIONS)))
    loop = asyncio.get_running_loop()
    try:
        left = max(0.0, flow.until - loop.time())
        done, _ = await asyncio.wait(
            {exited, question}, timeout=left, return_when=asyncio.FIRST_COMPLETED
        )
        if question in done:
            reply: elicitation.Reply = question.result()
            if reply.outcome == "error":  # the client failed, not the human: show the code here
                flow.park(Pending(code, session))
                return False, _cannot_ask(flow, code, reply)
            if reply.choice != CONTINUE:
                return False, (
                    f"Nothing was stored: {reply.explain()}, and the window was closed; "
                    + flow.call_again() + "."
                )
            return await flow.collect(ctx, Pending(code, session))
        if not done:  # the human has not answered the client's question within the budget
            return False, (
                "Nothing was stored: nobody chose Continue in the MCP client in time, and the "
                "window was closed; " + flow.call_again() + "."
            )
        values = await session.wait()  # raises DialogCancelled etc. if it did not collect
        done, _ = await asyncio.wait({question}, timeout=max(0.0, flow.until - loop.time()))
        if not done:
            return False, (
                f"Nothing was stored: you submitted the window but did not choose {CONTINUE} in "
                "the MCP client in time; " + flow.call_again() + "."
            )
        reply = question.result()
        if reply.choice != CONTINUE:
            return False, f"Nothing was stored: {reply.explain()}; " + flow.call_again() + "."
        return await flow.store(values)
    finally:
        for task in (exited, question):
            if not task.done():
                task.cancel()


def _cannot_ask(flow: _Flow, code: str, reply: elicitation.Reply | None) -> str:
    """The code for clients that cannot show our question: in the tool's result, which every
    client shows (a log message is not: 2026-07-28 clients only get those on opt-in)."""
    why = reply.explain() if reply is not None else "this MCP client cannot show questions"
    return (
        f"{flow.server} needs {', '.join(flow.names)} and opened a separate window titled "
        f"'MCP Secrets for {flow.server}'. Verification code: {code} — enter your credentials "
        "there only if the window shows this same code, then call this tool again. Nothing was "
        f"stored yet ({why})."
    )


async def _window_first(
    ctx: Any, flow: _Flow, code: str, session: DialogSession
) -> tuple[bool, str]:
    """For clients that cannot be asked: open the window and return its code at once."""
    failed = await _failed_at_once(session)
    if failed is not None:
        raise failed
    flow.park(Pending(code, session))
    return False, _cannot_ask(flow, code, None)


# ------------------------------------------------------------------ 2026-07-28 flows


#: Questions sent whose window has not opened yet: flow id -> (code, names, expiry).
_ASKED: dict[str, tuple[str, tuple[str, ...], float]] = {}


def _flow_key(flow: _Flow) -> str:
    digest = hashlib.sha256("\0".join([flow.server, *sorted(flow.names)]).encode()).hexdigest()
    return digest[:16]


async def _modern(ctx: Any, flow: _Flow) -> tuple[bool, str]:
    """First leg: ask (the window does not exist yet). Retry with Continue: open the window
    with the code the human saw, and wait for it within this call's budget."""
    key = _flow_key(flow)
    flow_id = elicitation.incoming_state(ctx)["flows"].get(key)
    asked = _ASKED.get(flow_id) if flow_id else None
    reply = (
        await elicitation.response_for(ctx, f"mcp_secrets.fetch:{flow_id}", list(OPTIONS))
        if flow_id else None
    )
    if reply is not None and reply.choice != CONTINUE:
        _ASKED.pop(flow_id or "", None)
        return False, (
            f"Nothing was stored: {reply.explain()}; no window was opened. "
            + flow.call_again() + "."
        )
    if reply is None or asked is None or asked[2] <= time.monotonic():
        now = time.monotonic()
        for stale in [f for f, a in _ASKED.items() if a[2] <= now]:
            del _ASKED[stale]
        flow_id, code = secrets.token_urlsafe(12), new_code()
        _ASKED[flow_id] = (code, tuple(flow.names), now + elicitation.QUESTION_TTL)
        await elicitation.ask_later(
            ctx,
            f"mcp_secrets.fetch:{flow_id}",
            _client_message(flow.server, flow.names, code, opened=False),
            list(OPTIONS),
            flows={key: flow_id},
        )
    assert flow_id is not None
    code = _ASKED.pop(flow_id)[0]
    return await flow.run(ctx, _opened, code)


async def _opened(ctx: Any, flow: _Flow, code: str, session: DialogSession) -> tuple[bool, str]:
    """2026-07-28 after Continue: the window is open with the code the human already saw."""
    failed = await _failed_at_once(session)
    if failed is not None:
        raise failed
    return await flow.collect(ctx, Pending(code, session))


async def _failed_at_once(session: DialogSession) -> DialogError | None:
    """The dialog's error if it gave up within EARLY_EXIT_GRACE (e.g. no display), else None."""
    if not await session.wait_exit(EARLY_EXIT_GRACE):
        return None
    try:
        await session.wait()
    except DialogError as exc:
        return exc
    return None
