"""A one-page credential form on 127.0.0.1: the dialog, for machines where no window can open.

MCP's URL-mode elicitation (revision 2025-11-25) sends the human to an address; this module
serves that address. The page shows the dialog's template (title, fields with the dialog's
types and validation) and hands back the values the dialog would have returned. It is meant to
be opened once, by one person, on this machine:

- the page never shows the verification code: the human types the code their MCP client shows,
  and a submission counts only with it. The address leaks (clients open it with `xdg-open
  <address>`, readable in /proc by every local user), so the address and the CSRF token it
  serves prove nothing; the code travels only to the client. After MAX_WRONG_CODES wrong codes
  the page closes for good, so guessing (31**8 codes) is hopeless;
- 127.0.0.1 only, a random port, and a path of 256 random bits;
- one successful submission, then the path answers 410; after the expiry too, and the listener
  closes;
- a CSRF token in a hidden field, compared in constant time; the Origin must be absent, `null`
  (Chromium sends that from a page whose referrer policy is no-referrer) or the page's own, and
  Sec-Fetch-Site, when the browser sends it, same-origin; the Host header must be this
  address's, so a DNS-rebinding site cannot reach the page under its own name;
- no caching, no framing, no referrer, no sniffing, and a CSP that allows no script and nothing
  from elsewhere;
- no request log (the paths are capabilities) and no traceback on stderr; values stay in memory.

Stdlib only (`http.server` in a thread), and nothing of storage or MCP: the caller decides what
to do with the values. A page has the interface of a running dialog (`wait`, `wait_exit`,
`close`, `add_done_callback`), so the fetcher can park and collect it like a window.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hmac
import html
import json
import re
import secrets
import selectors
import socket
import socketserver
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from mcp_secrets import config
from mcp_secrets.dialog.protocol import (
    MAX_FIELDS,
    MAX_RESULT_BYTES,
    Field,
    Template,
    build_result,
    field_problem,
)
from mcp_secrets.errors import (
    DialogCancelled,
    DialogError,
    DialogTimeout,
    TemplateError,
    TooManyWrongCodes,
)

HOST = "127.0.0.1"
DEFAULT_EXPIRY = 600.0
#: A form body: every value percent-encoded (up to 3 bytes per byte) plus names and the token.
MAX_BODY = 3 * MAX_RESULT_BYTES + 16 * 1024
#: Seconds a connection may stall before its thread gives up on it.
REQUEST_TIMEOUT = 15.0
#: Form keys of our own; a template's fields travel as "f:" + name, so no name can clash.
CSRF_KEY = "csrf"
ACTION_KEY = "action"
CODE_KEY = "code"
#: Wrong verification codes a page takes before it closes for good.
MAX_WRONG_CODES = 5
#: What a typed code may carry beside its letters: spaces and dashes (also typographic ones).
_CODE_NOISE = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
FIELD_PREFIX = "f:"

State = Literal["open", "used", "cancelled", "expired", "closed", "locked"]


def default_expiry() -> float:
    """`MCP_SECRETS_PAGE_EXPIRY` in seconds if set, else 600."""
    raw = (config.PAGE_EXPIRY.get() or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_EXPIRY
    except ValueError:
        value = -1.0
    if not 0 < value < 10**7:
        raise DialogError(
            f"MCP_SECRETS_PAGE_EXPIRY must be a positive number of seconds, not {raw[:20]!r}"
        )
    return value


class FormPage:
    """One credential page, listening from construction until it is used, expires or closes.

    ``page.url`` is what the human opens; ``await page.wait()`` gives the values (or raises
    DialogCancelled / DialogTimeout like a dialog, TooManyWrongCodes); ``await page.close()``
    stops it. `code` is the verification code the client shows: a submission must carry it.
    """

    def __init__(self, template: Template, *, code: str, expiry: float | None = None) -> None:
        if not _normal(code):
            raise DialogError("a credential page needs a verification code")
        self.template = template
        self._code = code
        self._wrong = 0
        self.expiry = default_expiry() if expiry is None else expiry
        self._path = "/" + secrets.token_urlsafe(32)
        self._csrf = secrets.token_urlsafe(32)
        self._style_nonce = secrets.token_urlsafe(16)
        self._lock = threading.Lock()
        self._state: State = "open"
        self._result: concurrent.futures.Future[dict[str, str]] = concurrent.futures.Future()
        self._aio: asyncio.Future[dict[str, str]] | None = None
        try:
            self._server = _Server((HOST, 0), _Handler)
        except OSError as exc:  # no loopback (a locked-down container): say so, as a dialog would
            raise DialogError(f"cannot serve the credential page on {HOST}: "
                              f"{exc.strerror or type(exc).__name__}") from None
        self._server.page = self
        self.port: int = self._server.server_address[1]
        self.origin = f"http://{HOST}:{self.port}"
        self.url = self.origin + self._path
        self.deadline = time.monotonic() + self.expiry
        self._stopped = False
        # A socket pair wakes the accept loop at once on stop (serve_forever would poll).
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="mcp-secrets-page", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.expiry, self._expire)
        self._timer.daemon = True
        self._timer.start()

    # -------------------------------------------------------------- the dialog's interface

    @property
    def code(self) -> str:
        return self._code

    @property
    def state(self) -> State:
        return self._state

    @property
    def finished(self) -> bool:
        return self._result.done()

    def _future(self) -> asyncio.Future[dict[str, str]]:
        """One asyncio view of the result, never cancelled (every waiter shields it)."""
        if self._aio is None:
            self._aio = asyncio.wrap_future(self._result)
            self._aio.add_done_callback(_consume)
        return self._aio

    def add_done_callback(self, callback: Callable[[FormPage], Any]) -> None:
        """Call `callback(page)` on the caller's event loop once the page is used, cancelled,
        expired or closed (for registries such as the fetcher's parked flows)."""
        self._future().add_done_callback(lambda _f: callback(self))

    async def wait_exit(self, timeout: float | None = None) -> bool:
        """True once the page has an outcome (within `timeout`); never stops the page."""
        done, _ = await asyncio.wait({self._future()}, timeout=timeout)
        return bool(done)

    async def wait(self) -> dict[str, str]:
        """The submitted values; raises DialogCancelled or DialogTimeout."""
        return await asyncio.shield(self._future())

    def result(self, timeout: float | None = None) -> dict[str, str]:
        """`wait` for threads and synchronous callers."""
        return self._result.result(timeout)

    async def close(self) -> None:
        """Stop listening (idempotent). An unsubmitted page ends as cancelled."""
        await asyncio.to_thread(self.stop)

    def stop(self) -> None:
        self._finish("closed", DialogCancelled(
            "the credential page was closed before it was submitted"))
        self._timer.cancel()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._server.server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _serve(self) -> None:
        """Accept connections until `stop`; each request is answered in its own thread."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._server.socket, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._server.handle_request()  # readable: returns at once

    def __repr__(self) -> str:  # the path is a capability: never show it
        return f"<FormPage port={self.port} {self._state}>"

    # -------------------------------------------------------------- outcomes

    def _finish(self, state: State, outcome: dict[str, str] | DialogError) -> bool:
        """Move an open page to `state` with its one outcome; False if it already had one."""
        with self._lock:
            if self._state != "open":
                return False
            self._state = state
            if isinstance(outcome, DialogError):
                self._result.set_exception(outcome)
            else:
                self._result.set_result(outcome)
            return True

    def _expire(self) -> None:
        self._finish("expired", DialogTimeout(
            f"nobody submitted the credential page within {self.expiry:g} s, so it was closed "
            "(set MCP_SECRETS_PAGE_EXPIRY to allow longer)"))
        self.stop()

    def _gone(self) -> str | None:
        """Why the path no longer takes requests, or None while it does."""
        if self._state == "open" and time.monotonic() >= self.deadline:
            return "This page has expired. Go back to your MCP client and call the tool again."
        return {
            "open": None,
            "used": "This page was already used. Nothing more can be sent from it.",
            "cancelled": "This page was cancelled. Nothing was sent from it.",
            "locked": "This page was closed after too many wrong verification codes. Nothing "
                      "was sent from it. Go back to your MCP client and call the tool again.",
        }.get(self._state, "This page has expired. Go back to your MCP client and call the "
                            "tool again.")

    # -------------------------------------------------------------- requests

    def handle(self, req: _Handler, method: str) -> None:
        """Answer one request (in a server thread)."""
        if req.headers.get("Host") != f"{HOST}:{self.port}":
            self._send(req, 421, _plain_page("Wrong address", "This page answers only at "
                                             f"{self.origin}."))
            return
        path = urllib.parse.urlsplit(req.path).path
        if not hmac.compare_digest(path.encode(), self._path.encode()):
            self._send(req, 404, _plain_page("Not found", "There is no page here."))
            return
        if (gone := self._gone()) is not None:
            self._send(req, 410, _plain_page("Gone", gone))
            return
        if method == "GET":
            self._send(req, 200, self._render({}, {}))
            return
        self._post(req)

    def _post(self, req: _Handler) -> None:
        refusal = self._refuse_foreign(req)
        if refusal is not None:
            self._send(req, 403, _plain_page("Refused", refusal))
            return
        form = _read_form(req)
        if isinstance(form, tuple):
            status, why = form
            self._send(req, status, _plain_page("Refused", why))
            return
        token = form.pop(CSRF_KEY, "")
        if not hmac.compare_digest(token.encode(), self._csrf.encode()):
            self._send(req, 403, _plain_page(
                "Refused", "This form is out of date or was not sent from this page. "
                "Reload the page and try again."))
            return
        action = form.pop(ACTION_KEY, "submit")
        typed = form.pop(CODE_KEY, "")
        raw: dict[str, str] = {}
        for key, value in form.items():
            name = key.removeprefix(FIELD_PREFIX)
            if key == name or name not in self._names():
                self._send(req, 400, _plain_page("Refused", "The form sent a field this page "
                                                 "does not have."))
                return
            raw[name] = value
        if action == "cancel":
            done = self._finish("cancelled", DialogCancelled(
                "the credential page was cancelled"))
            body = (_plain_page("Cancelled", "Nothing was sent. You can close this tab.") if done
                    else _plain_page("Gone", self._gone() or ""))
            self._send(req, 200 if done else 410, body)
            return
        if action != "submit":
            self._send(req, 400, _plain_page("Refused", "Unknown action."))
            return
        if not self._code_ok(req, typed):
            return
        errors = {f.name: p for f in self.template.fields if (p := field_problem(
            f, raw.get(f.name, "")))}
        if errors:
            self._send(req, 422, self._render(raw, errors))
            return
        try:
            values: dict[str, str] = json.loads(build_result(self.template, raw))
        except TemplateError as exc:
            self._send(req, 422, self._render(raw, {}, str(exc)))
            return
        if not self._finish("used", values):
            self._send(req, 410, _plain_page("Gone", self._gone() or ""))
            return
        self._send(req, 200, _plain_page(
            "Received", "Received. You can close this tab: your MCP client will say when "
            "it is stored."))

    def _code_ok(self, req: _Handler, typed: str) -> bool:
        """True if `typed` is the client's code; else answer the request (nothing typed is
        echoed) and count a wrong guess, closing the page at the limit."""
        if not _normal(typed):  # nothing typed is no guess: the human forgot the field
            self._send(req, 422, self._render({}, {}, "Type the verification code your MCP "
                                              "client shows."))
            return False
        if hmac.compare_digest(_normal(typed).encode(), _normal(self._code).encode()):
            return True
        with self._lock:
            self._wrong += 1
            left = MAX_WRONG_CODES - self._wrong
        if left > 0:
            self._send(req, 422, self._render({}, {}, "That is not the code your MCP client "
                                              f"shows. {left} {'try' if left == 1 else 'tries'} "
                                              "left."))
            return False
        locked = self._finish("locked", TooManyWrongCodes(
            f"the browser page was closed after {MAX_WRONG_CODES} wrong verification codes"))
        self._send(req, 403 if locked else 410, _plain_page("Closed", self._gone() or ""))
        if locked:
            self.stop()
        return False

    def _refuse_foreign(self, req: _Handler) -> str | None:
        """Why a POST comes from another site, or None. A null Origin is what Chromium sends
        from our own no-referrer page; the CSRF token is what proves the form is ours."""
        origin = req.headers.get("Origin")
        if origin is not None and origin not in ("null", self.origin):
            return "This form can only be sent from its own page."
        site = req.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return "This form can only be sent from its own page."
        return None

    def _names(self) -> set[str]:
        return {f.name for f in self.template.fields}

    def _send(self, req: _Handler, status: int, body: str) -> None:
        data = body.encode("utf-8")
        req.send_response(status)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for name, value in self._headers().items():
            req.send_header(name, value)
        req.end_headers()
        with contextlib.suppress(OSError):
            req.wfile.write(data)

    def _headers(self) -> dict[str, str]:
        return {
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{self._style_nonce}'; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Connection": "close",
        }

    # -------------------------------------------------------------- the page

    def _render(self, raw: Mapping[str, str], errors: Mapping[str, str],
                general: str | None = None) -> str:
        t = self.template
        parts = [
            f"<h1>{_e(t.title)}</h1>",
            f'<p class="description">{_e(t.description)}</p>' if t.description else "",
            f'<p class="error" role="alert" id="form-error">{_e(general)}</p>' if general else "",
            f'<form method="post" action="{_e(self._path)}" novalidate autocomplete="off">',
            f'<input type="hidden" name="{CSRF_KEY}" value="{_e(self._csrf)}">',
            # Never pre-filled: the code must come from the human, who read it in the client.
            '<div class="field code"><label for="code">Verification code shown by your MCP '
            f'client</label><input id="code" name="{CODE_KEY}" type="text" required '
            'maxlength="32" spellcheck="false" autocapitalize="characters" autocomplete="off">'
            "</div>",
            *(_field_html(i, f, raw, errors.get(f.name)) for i, f in enumerate(t.fields)),
            '<p class="buttons">'
            f'<button type="submit" name="{ACTION_KEY}" value="submit" id="submit">Save</button> '
            f'<button type="submit" name="{ACTION_KEY}" value="cancel" id="cancel">Cancel</button>'
            "</p></form>",
        ]
        return _document(t.title, "\n".join(p for p in parts if p), self._style_nonce)


def _field_html(index: int, f: Field, raw: Mapping[str, str], error: str | None) -> str:
    """One field, with the dialog's types: a password box keeps nothing between renders."""
    fid = f"field-{index}"
    name = _e(FIELD_PREFIX + f.name)
    mark = ' <span class="required" title="required">*</span>' if f.required else ""
    described = f' aria-describedby="{fid}-help"' if f.help_text else ""
    help_html = f'<p class="help" id="{fid}-help">{_e(f.help_text)}</p>' if f.help_text else ""
    error_html = f'<p class="error" role="alert" id="{fid}-error">{_e(error)}</p>' if error else ""
    if f.field_type == "choice":
        chosen = raw.get(f.name, f.default or "")
        options = "".join(
            f'<label class="option"><input type="radio" name="{name}" value="{_e(o)}"'
            f'{" checked" if o == chosen else ""}> {_e(o)}</label>'
            for o in f.options or ()
        )
        return (f'<fieldset class="field" id="{fid}"><legend>{_e(f.display_label)}{mark}</legend>'
                f"{options}{help_html}{error_html}</fieldset>")
    kind = {"password": "password", "email": "email", "url": "url"}.get(f.field_type, "text")
    value = "" if f.field_type == "password" and f.name in raw else raw.get(
        f.name, f.default or "")
    attrs = [f'id="{fid}"', f'name="{name}"', f'type="{kind}"', 'spellcheck="false"',
             'autocapitalize="off"', 'autocomplete="off"']
    if value:
        attrs.append(f'value="{_e(value)}"')
    if f.placeholder:
        attrs.append(f'placeholder="{_e(f.placeholder)}"')
    if f.required:
        attrs.append("required")
    return (f'<div class="field"><label for="{fid}">{_e(f.display_label)}{mark}</label>'
            f"<input {' '.join(attrs)}{described}>{help_html}{error_html}</div>")


_STYLE = """
body{font:16px/1.45 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}
.code input{font:700 1.4rem ui-monospace,monospace;letter-spacing:.1em;max-width:14rem}
.description{white-space:pre-wrap}.field{margin:1rem 0;border:0;padding:0}
label,legend{display:block;font-weight:600}.option{font-weight:400}
input[type=text],input[type=password],input[type=email],input[type=url]{width:100%;
box-sizing:border-box;padding:.45rem;font:inherit}
.help{margin:.2rem 0;color:#555;font-size:.9rem;white-space:pre-wrap}.error{color:#b00020}
.required{color:#b00020}button{font:inherit;padding:.4rem 1.2rem}
"""


def _document(title: str, body: str, nonce: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style nonce=\"{_e(nonce)}\">{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _plain_page(title: str, text: str) -> str:
    # Styled by nothing (no nonce): these pages hold one sentence.
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(title)}'
            f'</title></head><body><h1>{_e(title)}</h1><p id="message">{_e(text)}</p></body>'
            "</html>")


def _normal(code: str) -> str:
    """A code as compared: no spaces or dashes, upper case (the human may type it so)."""
    return _CODE_NOISE.sub("", code).upper()


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)


def _read_form(req: _Handler) -> dict[str, str] | tuple[int, str]:
    """The urlencoded body as a dict, or (status, reason) if it is not one we accept."""
    kind = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return 415, "The form must be sent as application/x-www-form-urlencoded."
    try:
        length = int(req.headers.get("Content-Length") or "")
    except ValueError:
        return 411, "The form was sent without its length."
    if not 0 <= length <= MAX_BODY:
        return 413, "The form is too large."
    try:
        body = req.rfile.read(length).decode("ascii")
        pairs = urllib.parse.parse_qsl(body, keep_blank_values=True, encoding="utf-8",
                                       errors="strict", max_num_fields=MAX_FIELDS + 2)
    except (OSError, ValueError):
        return 400, "The form could not be read."
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            return 400, "The form sent a field twice."
        form[key] = value
    return form


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark an outcome nobody awaited as seen (no 'exception never retrieved' noise)."""
    if not future.cancelled():
        future.exception()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    timeout = 0.5  # `handle_request` never blocks the accept loop for longer
    page: FormPage

    def server_bind(self) -> None:
        # HTTPServer's own asks DNS for the host's name (getfqdn): slow, and not needed.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Silent: a traceback on stderr is a log, and a log is no place for a form."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT

    def version_string(self) -> str:
        return "mcp-secrets"

    def do_GET(self) -> None:
        self.server.page.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.page.handle(self, "POST")

    def log_message(self, format: str, *args: Any) -> None:
        """No request log: each path is a capability, and there is nothing to audit here."""


__all__ = ["DEFAULT_EXPIRY", "MAX_WRONG_CODES", "FormPage", "default_expiry"]
