"""The one-time credential page (`mcp_secrets.urlform`) on its own: a real listener on
127.0.0.1 and plain HTTP requests with exactly the headers a test chooses (forged Host, foreign
Origin, no token...). No browser, no MCP: tests/test_urlmode.py drives it from Chromium through
a real client and server."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse

import pytest

from mcp_secrets.dialog.protocol import Field, Template, build_result, field_problem
from mcp_secrets.errors import DialogCancelled, DialogError, DialogTimeout, TooManyWrongCodes
from mcp_secrets.urlform import MAX_WRONG_CODES, FormPage, default_expiry
from tests.plain_http import headers_of, request

CODE = "ABCD-EFGH"


def template(*fields: Field) -> Template:
    return Template(
        "MCP Secrets for demo",
        fields or (
            Field("api_key", "API Key", "password", required=True, help_text="Your key"),
            Field("user", "User", "text", default="alice", placeholder="name"),
            Field("mail", "E-mail", "email"),
            Field("base", "Base URL", "url"),
            Field("region", "Region", "choice", options=("eu", "us"), default="eu"),
        ),
        "Type the verification code your MCP client shows for demo.",
    )


@pytest.fixture
def page() -> FormPage:
    p = FormPage(template(), code=CODE, expiry=60)
    yield p
    p.stop()


def csrf_of(page: FormPage) -> str:
    status, body = request(page.url)
    assert status == 200
    found = re.search(r'name="csrf" value="([^"]+)"', body)
    assert found
    return found.group(1)


def form(page: FormPage, code: str | None = CODE, **values: str) -> dict[str, str]:
    """The form as the human sends it: token, the client's code (None: left out), values."""
    out = {"csrf": csrf_of(page), "action": "submit"}
    if code is not None:
        out["code"] = code
    out.update({f"f:{k}": v for k, v in values.items()})
    return out


# ---------------------------------------------------------------- what is served


def test_the_address_is_local_random_and_unguessable() -> None:
    a, b = FormPage(template(), code=CODE, expiry=60), FormPage(template(), code=CODE, expiry=60)
    try:
        for p in (a, b):
            parts = urllib.parse.urlsplit(p.url)
            assert parts.scheme == "http" and parts.hostname == "127.0.0.1"
            assert len(parts.path) >= 43 and not parts.query  # 256 random bits, nothing else
            assert parts.path not in repr(p)
        assert a.url != b.url and a.port != b.port
    finally:
        a.stop()
        b.stop()


def test_the_page_shows_the_template_with_the_dialogs_field_types(page: FormPage) -> None:
    status, body = request(page.url)
    assert status == 200
    assert "<title>MCP Secrets for demo</title>" in body
    assert CODE not in body and CODE.replace("-", "") not in body  # the page never shows it
    assert 'name="code" type="text" required' in body and "Verification code shown by" in body
    assert body.index('name="code"') < body.index('name="f:api_key"')  # the first field
    assert 'name="f:api_key" type="password"' in body and " required" in body
    assert 'name="f:user" type="text"' in body and 'value="alice"' in body
    assert 'placeholder="name"' in body
    assert 'name="f:mail" type="email"' in body and 'name="f:base" type="url"' in body
    assert body.count('type="radio" name="f:region"') == 2
    assert 'value="eu" checked' in body
    assert "Your key" in body
    assert "<script" not in body  # no script at all


def test_strict_headers(page: FormPage) -> None:
    h = headers_of(page.url)
    assert h["cache-control"] == "no-store"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "no-referrer"
    assert h["x-content-type-options"] == "nosniff"
    csp = h["content-security-policy"]
    for rule in ("default-src 'none'", "frame-ancestors 'none'", "form-action 'self'",
                 "base-uri 'none'"):
        assert rule in csp
    assert "script-src" not in csp and "unsafe-inline" not in csp


def test_what_the_page_shows_is_escaped() -> None:
    evil = '<script>alert(1)</script>"'
    p = FormPage(Template(f"T {evil}", [Field("k", f"L {evil}", "text", help_text=evil,
                                              placeholder=evil)], f"D {evil}"), code=CODE,
                 expiry=60)
    try:
        body = request(p.url)[1]
        assert "<script" not in body and "&lt;script&gt;" in body
    finally:
        p.stop()


def test_field_names_cannot_clash_with_the_pages_own_keys() -> None:
    p = FormPage(Template("T", [Field("csrf", "C", "text", required=True),
                                Field("action", "A", "text", required=True),
                                Field("code", "V", "text", required=True)]), code=CODE, expiry=60)
    try:
        data = {**form(p), "f:csrf": "one", "f:action": "two", "f:code": "three"}
        status, _ = request(p.url, data=data)
        assert status == 200
        assert p.result(5) == {"csrf": "one", "action": "two", "code": "three"}
    finally:
        p.stop()


# ---------------------------------------------------------------- who may send it


def test_unknown_path_is_404(page: FormPage) -> None:
    assert request(page.origin + "/")[0] == 404
    assert request(page.url + "x")[0] == 404
    assert request(page.origin + "/favicon.ico")[0] == 404


def test_a_foreign_host_header_is_refused(page: FormPage) -> None:
    """DNS rebinding: a site whose name now points at 127.0.0.1 sends its own Host."""
    for host in (f"evil.example:{page.port}", f"localhost:{page.port}", "127.0.0.1"):
        assert request(page.url, headers={"Host": host})[0] == 421
        assert request(page.url, data=form(page, api_key="x"), headers={"Host": host})[0] == 421
    assert not page.finished


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_csrf_token_missing_or_wrong_is_refused(page: FormPage, token: str | None) -> None:
    data = form(page, api_key="x")
    if token is None:
        del data["csrf"]
    else:
        data["csrf"] = token
    assert request(page.url, data=data)[0] == 403
    assert not page.finished
    assert request(page.url, data=form(page, api_key="x"))[0] == 200  # the page still works


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "http://127.0.0.1:1"},  # same site, another port: another origin
    {"Origin": "https://127.0.0.1"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame elsewhere
])
def test_a_post_from_another_origin_is_refused_even_with_the_token(
    page: FormPage, headers: dict[str, str]
) -> None:
    assert request(page.url, data=form(page, api_key="x"), headers=headers)[0] == 403
    assert not page.finished


@pytest.mark.parametrize("headers", [
    {},  # no Origin (a client that is not a browser)
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # Chromium, from a no-referrer page
    {"Origin": "SELF", "Sec-Fetch-Site": "same-origin"},
])
def test_a_post_from_the_page_itself_is_accepted(page: FormPage, headers: dict[str, str]) -> None:
    sent = {k: (page.origin if v == "SELF" else v) for k, v in headers.items()}
    assert request(page.url, data=form(page, api_key="k"), headers=sent)[0] == 200
    assert page.result(5)["api_key"] == "k"


@pytest.mark.parametrize(("body", "headers", "status"), [
    ("csrf=a&csrf=b", {}, 400),  # a field twice
    ("f:nope=1", {}, 400),
    ("plain", {"Content-Type": "text/plain"}, 415),
    ("x", {"Content-Length": str(10**9)}, 413),
    ("%ff=1", {}, 400),  # not UTF-8
])
def test_malformed_forms_are_refused(page: FormPage, body: str, headers: dict[str, str],
                                     status: int) -> None:
    if "csrf" not in body and status == 400 and body.startswith("f:"):
        body = urllib.parse.urlencode({"csrf": csrf_of(page)}) + "&" + body
    assert request(page.url, data=body, headers=headers)[0] == status
    assert not page.finished


# ---------------------------------------------------------------- the client's code


@pytest.mark.parametrize("code", [None, "", "  - ", "ABCD-EFGX", "WXYZ-2345", "ABCD-EFGH-1",
                                  "ABCDEFG"])
def test_an_attacker_who_read_the_page_cannot_submit_without_the_code(
    page: FormPage, code: str | None
) -> None:
    """The address leaks (xdg-open's argv is in /proc): whoever fetches it gets the page and
    its CSRF token, but not the code, which only the client was sent. Refused with 422,
    nothing stored, nothing the poster typed comes back; the human can still submit."""
    canary = "canary-planted-by-attacker"
    status, body = request(page.url, data=form(page, code=code, api_key=canary, user=canary))
    assert status == 422 and not page.finished
    assert canary not in body and CODE not in body
    assert ("That is not the code your MCP client shows" in body if code and code.strip(" -")
            else "Type the verification code your MCP client shows" in body)
    assert request(page.url, data=form(page, api_key="human"))[0] == 200
    assert page.result(5)["api_key"] == "human"


@pytest.mark.parametrize("typed", ["abcd-efgh", "ABCDEFGH", " ABCD EFGH ", "ab cd–ef gh"])
def test_the_code_may_be_typed_in_any_case_with_or_without_its_dash(
    page: FormPage, typed: str
) -> None:
    assert request(page.url, data=form(page, code=typed, api_key="k"))[0] == 200
    assert page.result(5)["api_key"] == "k"


def test_the_code_is_checked_before_the_values(page: FormPage) -> None:
    """A wrong code with a bad value: the code's error only (the values say nothing to a
    guesser); the right code with a bad value: the value's error, no guess counted."""
    body = request(page.url, data=form(page, code="WXYZ-2345", api_key="k", mail="x"))[1]
    assert "not the code" in body and 'id="field-2-error"' not in body
    status, body = request(page.url, data=form(page, api_key="k", mail="x"))
    assert status == 422 and 'id="field-2-error"' in body and "not the code" not in body
    assert CODE not in body  # not even echoed back to the one who typed it


def test_too_many_wrong_codes_close_the_page_for_good(page: FormPage) -> None:
    for left in range(MAX_WRONG_CODES - 1, 0, -1):
        status, body = request(page.url, data=form(page, code="WXYZ-2345", api_key="x"))
        assert status == 422 and f"{left} tr" in body
    for _ in range(3):  # forgetting the code is no guess: it never counts
        assert request(page.url, data=form(page, code="", api_key="x"))[0] == 422
    status, body = request(page.url, data=form(page, code="WXYZ-2346", api_key="x"))
    assert status == 403 and "too many wrong verification codes" in body
    with pytest.raises(TooManyWrongCodes, match="5 wrong verification codes"):
        page.result(5)
    assert page.state == "locked"
    assert request(page.url, data={"code": CODE, "f:api_key": "late"})[0] in (0, 410)
    deadline = time.monotonic() + 5
    while request(page.url)[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request(page.url)[0] == 0  # the listener is closed


def test_a_page_needs_a_code() -> None:
    for code in ("", " - "):
        with pytest.raises(DialogError, match="needs a verification code"):
            FormPage(template(), code=code, expiry=60)


# ---------------------------------------------------------------- validation, as the dialog


@pytest.mark.parametrize(("name", "value"), [
    ("api_key", ""), ("api_key", "   "), ("mail", "not-an-address"), ("base", "ftp://x.example"),
    ("base", "https://"), ("region", "mars"),
])
def test_a_bad_value_re_renders_with_the_dialogs_error(page: FormPage, name: str,
                                                       value: str) -> None:
    values = {"api_key": "k", "user": "bob", name: value}
    status, body = request(page.url, data=form(page, **values))
    assert status == 422 and not page.finished
    field = next(f for f in page.template.fields if f.name == name)
    problem = field_problem(field, value)
    assert problem and json.dumps(problem)[1:-1].replace("'", "&#x27;") in body
    assert 'value="bob"' in body  # what the human typed is kept...
    assert 'type="password" spellcheck' in body and 'value="k"' not in body  # ...not a password
    assert request(page.url, data=form(page, api_key="k"))[0] == 200  # still usable


def test_values_come_back_as_the_dialog_would_return_them(page: FormPage) -> None:
    raw = {"api_key": "s3cret\n", "user": "  bob ", "mail": "a@b.example",
           "base": "https://api.example.com", "region": "us"}
    assert request(page.url, data=form(page, **raw))[0] == 200
    assert page.result(5) == json.loads(build_result(page.template, raw))
    assert page.result(5)["api_key"] == "s3cret" and page.result(5)["user"] == "bob"


# ---------------------------------------------------------------- once, and not late


def test_one_submission_then_the_path_is_gone(page: FormPage) -> None:
    data = form(page, api_key="first")
    status, body = request(page.url, data=data)
    assert status == 200 and "close this tab" in body
    assert request(page.url, data=data)[0] == 410  # the same post replayed
    assert request(page.url, data={**data, "f:api_key": "second"})[0] == 410
    assert request(page.url)[0] == 410
    assert page.result(5) == {"api_key": "first"}  # a browser would also send the defaults


def test_concurrent_submissions_only_one_counts(page: FormPage) -> None:
    token = csrf_of(page)
    statuses: list[int] = []

    def post(i: int) -> None:
        data = {"csrf": token, "action": "submit", "code": CODE, "f:api_key": f"v{i}"}
        statuses.append(request(page.url, data=data)[0])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [410] * 7
    assert page.result(5)["api_key"].startswith("v")


def test_after_the_deadline_requests_are_refused(page: FormPage) -> None:
    data = form(page, api_key="late")
    page.deadline = time.monotonic() - 1  # as if the expiry had passed, listener still up
    assert request(page.url)[0] == 410
    assert request(page.url, data=data)[0] == 410
    assert not page.finished or isinstance(page._result.exception(), DialogTimeout)


def test_expiry_ends_the_page_and_closes_the_listener() -> None:
    p = FormPage(template(), code=CODE, expiry=0.3)
    with pytest.raises(DialogTimeout, match="MCP_SECRETS_PAGE_EXPIRY"):
        p.result(10)
    deadline = time.monotonic() + 5
    while request(p.url)[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert request(p.url)[0] == 0
    assert p.state == "expired"


def test_cancel_button(page: FormPage) -> None:
    data = form(page, api_key="typed")
    data["action"] = "cancel"
    status, body = request(page.url, data=data)
    assert status == 200 and "Nothing was sent" in body
    with pytest.raises(DialogCancelled):
        page.result(5)
    assert request(page.url)[0] == 410


def test_stop_closes_the_listener_and_cancels(page: FormPage) -> None:
    page.stop()
    page.stop()  # idempotent
    assert request(page.url)[0] == 0
    with pytest.raises(DialogCancelled, match="closed before it was submitted"):
        page.result(5)


# ---------------------------------------------------------------- as a dialog session


def test_the_async_interface_of_a_dialog_session() -> None:
    async def main() -> None:
        p = FormPage(template(), code=CODE, expiry=60)
        seen: list[FormPage] = []
        p.add_done_callback(seen.append)
        assert not await p.wait_exit(0.05)
        status = await asyncio.to_thread(request, p.url, data=form(p, api_key="k"))
        assert status[0] == 200
        assert await p.wait_exit(5)
        assert (await p.wait())["api_key"] == "k"
        await asyncio.sleep(0)
        assert seen == [p]
        await p.close()
        assert (await asyncio.to_thread(request, p.url))[0] == 0

    asyncio.run(main())


def test_nothing_is_logged(page: FormPage, capfd: pytest.CaptureFixture[str]) -> None:
    canary = "canary-page-value"
    request(page.url, data=form(page, api_key=canary, mail="bad"))
    request(page.url, data="garbage", headers={"Content-Type": "text/plain"})
    request(page.url, data=form(page, api_key=canary))
    request(page.url, data={"f:api_key": canary})  # no token
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert canary not in repr(page)


def test_expiry_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MCP_SECRETS_PAGE_EXPIRY", raising=False)
    assert default_expiry() == 600
    monkeypatch.setenv("MCP_SECRETS_PAGE_EXPIRY", "5")
    assert default_expiry() == 5
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("MCP_SECRETS_PAGE_EXPIRY", bad)
        with pytest.raises(DialogError, match="MCP_SECRETS_PAGE_EXPIRY must be a positive"):
            default_expiry()


def test_a_page_that_cannot_listen_is_a_dialog_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the address cannot be bound (here: one this machine does not have), the fetcher
    gets a DialogError with a reason, as from a dialog that cannot open, not a crash."""
    from mcp_secrets import urlform

    monkeypatch.setattr(urlform, "HOST", "192.0.2.1")  # TEST-NET-1: never a local address
    with pytest.raises(DialogError, match=r"cannot serve the credential page on 192\.0\.2\.1"):
        FormPage(template(), code=CODE, expiry=60)
