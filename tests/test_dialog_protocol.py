"""The dialog protocol: template parsing, limits, validators, result shape, exit codes.

Hostile templates run through the real `python -m mcp_secrets.dialog` as a subprocess with a
timeout: each must end in exit 2, one `error:` line, nothing on stdout, no traceback. They
fail before any window could open, so they need no display (DISPLAY is removed to prove it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from mcp_secrets.dialog import protocol
from mcp_secrets.dialog.protocol import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_NO_DISPLAY,
    EXIT_OK,
    Field,
    Template,
    TemplateError,
    build_result,
    parse_result,
    parse_template,
    validate_email,
    validate_url,
)
from mcp_secrets.errors import DialogError

GOOD: dict[str, Any] = {
    "title": "MCP Secrets for Demo",
    "description": "Verification code: AB3F-9K2L\n\nConfirm the code matches.",
    "fields": [{"name": "api_key", "label": "API Key", "field_type": "password",
                "required": True, "help_text": "Your secret API key"}],
}


def _run(stdin: bytes, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[
        bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "mcp_secrets.dialog"], input=stdin,
                          capture_output=True, env=env, timeout=30)


def _with_field(**changes: Any) -> dict[str, Any]:
    field = {**GOOD["fields"][0], **changes}
    return {**GOOD, "fields": [field]}


HOSTILE: dict[str, tuple[bytes, str]] = {
    "10 MB": (b'{"title": "' + b"a" * 10_000_000 + b'"}', "larger than 64 KiB"),
    "endless-ish stream": (b"[" * 5_000_000, "larger than 64 KiB"),
    "nesting 10k": (b"[" * 10_000 + b"]" * 10_000, "nested more than"),
    "nesting inside field": (json.dumps(_with_field(default=[[[[[[[[["x"]]]]]]]]])).encode(),
                             "nested more than"),
    "5000 fields": (json.dumps({**GOOD, "fields": [
        {"name": f"f{i}", "field_type": "text"} for i in range(5000)]}).encode(),
        "larger than 64 KiB"),
    "60 fields": (json.dumps({**GOOD, "fields": [
        {"name": f"f{i}", "field_type": "text"} for i in range(60)]}).encode(),
        "60 fields; the limit is 50"),
    "not json": (b"{title: nope}", "not valid JSON"),
    "NaN": (b'{"title": NaN, "fields": []}', "NaN"),
    "not utf-8": (b'{"title": "\xff\xfe"}', "not valid UTF-8"),
    "empty stdin": (b"", "no template on stdin"),
    "array": (b"[1, 2]", "must be a JSON object, not array"),
    "empty fields": (json.dumps({**GOOD, "fields": []}).encode(), "at least one field"),
    "fields not list": (json.dumps({**GOOD, "fields": {"a": 1}}).encode(),
                        "fields must be an array"),
    "missing title": (json.dumps({"fields": GOOD["fields"]}).encode(), 'missing "title"'),
    "title number": (json.dumps({**GOOD, "title": 5}).encode(), "title must be a string"),
    "unknown field type": (json.dumps(_with_field(field_type="file")).encode(),
                           "unknown field_type 'file'"),
    "field type not str": (json.dumps(_with_field(field_type=["x"])).encode(),
                           "unknown field_type array"),
    "required not bool": (json.dumps(_with_field(required="yes")).encode(),
                          "required must be true or false"),
    "default not str": (json.dumps(_with_field(default=42)).encode(),
                        "default must be a string"),
    "duplicate names": (json.dumps({**GOOD, "fields": GOOD["fields"] * 2}).encode(),
                        "duplicate field name 'api_key'"),
    "duplicate json key": (b'{"title": "a", "title": "b", "fields": []}',
                           "duplicate key 'title'"),
    "unknown key": (json.dumps(_with_field(requried=True)).encode(), "unknown key 'requried'"),
    "control char in label": (json.dumps(_with_field(label="API\x1bKey")).encode(),
                              "label contains a control character (U+001B)"),
    "newline in title": (json.dumps({**GOOD, "title": "a\nb"}).encode(),
                         "title contains a control character (U+000A)"),
    "bidi override in label": (json.dumps(_with_field(label="Key\u202e")).encode(),
                               "U+202E"),
    "control char in name": (json.dumps(_with_field(name="a\x07b")).encode(),
                             "unprintable character (U+0007)"),
    "name with spaces around": (json.dumps(_with_field(name=" key")).encode(),
                                "must not start or end with whitespace"),
    "empty name": (json.dumps(_with_field(name="")).encode(), "must not be empty"),
    "long title": (json.dumps({**GOOD, "title": "t" * 500}).encode(), "the limit is 200"),
    "invalid url default": (json.dumps(_with_field(field_type="url",
                                                   default="javascript:x")).encode(),
                            "default is not valid"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_or_broken_template_is_exit_2_with_one_line(case: str) -> None:
    stdin, reason = HOSTILE[case]
    r = _run(stdin)
    assert r.returncode == EXIT_ERROR
    assert r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("error: bad template: "), err
    assert err.count("\n") == 1 and err.endswith("\n")
    assert reason in err
    assert "Traceback" not in err
    assert len(err) < 400


def test_error_message_never_echoes_a_default_value() -> None:
    canary = "canary-default-SECRET"
    r = _run(json.dumps(_with_field(field_type="email", default=canary)).encode())
    assert r.returncode == EXIT_ERROR
    assert canary not in r.stderr.decode()


def test_valid_template_without_display_is_exit_3_no_display() -> None:
    r = _run(json.dumps(GOOD).encode())
    assert (r.returncode, r.stdout) == (EXIT_NO_DISPLAY, b"")
    err = r.stderr.decode()
    assert err.startswith("error: no display available for the credentials dialog")
    assert err.count("\n") == 1 and "mcp-secrets set" in err


def test_wayland_only_says_why() -> None:
    r = _run(json.dumps(GOOD).encode(), {"WAYLAND_DISPLAY": "wayland-0"})
    assert r.returncode == EXIT_NO_DISPLAY
    assert "WAYLAND_DISPLAY is set but DISPLAY is not" in r.stderr.decode()


def test_a_bad_template_is_exit_2_even_without_a_display() -> None:
    """The template is judged first: a broken template is the caller's bug, not the host's."""
    r = _run(b'{"title": "x"}')
    assert r.returncode == EXIT_ERROR


def test_unexpected_argument_is_exit_2() -> None:
    r = subprocess.run([sys.executable, "-m", "mcp_secrets.dialog", "--bogus"], input=b"",
                       capture_output=True, timeout=30)
    assert r.returncode == EXIT_ERROR
    assert r.stderr.decode().startswith("error: unexpected argument '--bogus'")


def test_importing_the_protocol_does_not_import_tk() -> None:
    code = ("import sys, mcp_secrets.dialog, mcp_secrets.dialog.protocol; "
            "print('tkinter' in sys.modules, 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    assert out.strip() == "False False"


def test_exit_codes_are_the_contract() -> None:
    assert (EXIT_OK, EXIT_CANCELLED, EXIT_ERROR, EXIT_NO_DISPLAY) == (0, 1, 2, 3)


# ----------------------------------------------------------------- building templates


def test_template_round_trips_through_json() -> None:
    t = Template(
        "MCP Secrets for Demo",
        [Field("api_key", "API Key", "password", required=True, help_text="Your key"),
         Field("endpoint", "Endpoint", "url", default="https://api.example.com"),
         Field("email", field_type="email", placeholder="you@example.com")],
        description="Verification code: AB3F-9K2L",
    )
    assert parse_template(t.to_json()) == t
    assert t.verification_code == "AB3F-9K2L"
    assert json.loads(t.to_json())["fields"][2]["label"] == "email"  # label defaults to name


def test_seed_template_parses_unchanged() -> None:
    t = parse_template(json.dumps(GOOD))
    assert t.fields[0] == Field("api_key", "API Key", "password", required=True,
                                help_text="Your secret API key")
    assert t.fields[0].required is True


def test_field_repr_hides_default() -> None:
    f = Field("token", "Token", "password", default="canary-prefilled")
    assert "canary-prefilled" not in repr(f)
    assert "canary-prefilled" not in repr(Template("T", [f]))


def test_constructor_validates() -> None:
    with pytest.raises(TemplateError, match="unknown field_type 'file'"):
        Field("x", field_type="file")  # type: ignore[arg-type]
    with pytest.raises(TemplateError, match="duplicate field name"):
        Template("T", [Field("a"), Field("a")])
    with pytest.raises(TemplateError, match="title must not be empty"):
        Template("  ", [Field("a")])
    assert issubclass(TemplateError, DialogError)


def test_depth_check_ignores_brackets_inside_strings() -> None:
    t = parse_template(json.dumps({**GOOD, "description": "[[[[[[[[[[[[{{{{{{{{{{ \\\" ]]"}))
    assert t.description.startswith("[[[[")


# ----------------------------------------------------------------- validators


@pytest.mark.parametrize("url", [
    "https://api.example.com", "http://localhost:8080/v1?x=1", "https://[::1]:8443/",
    "http://127.0.0.1", "https://bücher.example/", "HTTPS://API.EXAMPLE.COM",
])
def test_valid_urls(url: str) -> None:
    assert validate_url(url) is None


@pytest.mark.parametrize("url", [
    "", "api.example.com", "javascript:alert(1)", "ftp://example.com", "https://",
    "https:///path", "http://exa mple.com", "https://example.com/ x", "https://exa$mple.com",
    "https://x.com:99999", "https://x.com:0", "http://\\evil.com", "data:text/html,hi",
    "https://-bad-.com", "https://example.com\n",
])
def test_invalid_urls(url: str) -> None:
    assert validate_url(url)


@pytest.mark.parametrize("email", [
    "a@b.co", "x.y+tag@sub.example.org", "o'brien@example.ie", "user@bücher.example",
])
def test_valid_emails(email: str) -> None:
    assert validate_email(email) is None


@pytest.mark.parametrize("email", [
    "", "plain", "a@b", "@b.co", "a@", "a@@b.co", "a@b@c.co", "a b@c.de", "a@c .de",
    "a..b@c.de", ".a@c.de", "a@-b.com", "a@b..com", "a@.b.com", "ä@b.de",
])
def test_invalid_emails(email: str) -> None:
    assert validate_email(email)


# ----------------------------------------------------------------- results


def _tmpl() -> Template:
    return Template("T", [
        Field("key", "Key", "password", required=True),
        Field("url", "URL", "url"),
        Field("note", "Note", "text"),
    ])


def test_build_result_keeps_filled_fields_and_omits_empty_optional() -> None:
    out = build_result(_tmpl(), {"key": " k3y \n", "url": " https://x.example ", "note": ""})
    assert json.loads(out) == {"key": " k3y ", "url": "https://x.example"}


def test_build_result_refuses_invalid_values_without_echoing_them() -> None:
    with pytest.raises(TemplateError, match="'url'") as info:
        build_result(_tmpl(), {"key": "k", "url": "canary-not-a-url"})
    assert "canary-not-a-url" not in str(info.value)
    with pytest.raises(TemplateError, match="required"):
        build_result(_tmpl(), {"key": "  \n"})
    with pytest.raises(TemplateError, match="unknown field"):
        build_result(_tmpl(), {"key": "k", "extra": "v"})


def test_parse_result_checks_shape_and_never_echoes_output() -> None:
    t = _tmpl()
    assert parse_result('{"key": "v"}', t) == {"key": "v"}
    for bad, msg in [("canary-garbage", "not a JSON object"), ('["canary"]', "JSON array"),
                     ('{"key": 5}', "number"), ('{"key": "v", "zzz": "canary"}', "unknown"),
                     ("{}", "required field 'key'")]:
        with pytest.raises(DialogError, match=msg) as info:
            parse_result(bad, t)
        assert "canary" not in str(info.value).replace("unknown field 'zzz'", "")


def test_limits_are_what_the_docs_say() -> None:
    assert protocol.MAX_TEMPLATE_BYTES == 64 * 1024
    assert protocol.MAX_FIELDS == 50


# ----------------------------------------------------------------- the choice field

DECISION = {"name": "decision", "label": "Use API_KEY?", "field_type": "choice",
            "options": ["Allow", "Allow for session", "Deny"], "required": True}


def test_choice_template_round_trips_and_validates_the_answer() -> None:
    t = parse_template(json.dumps({**GOOD, "fields": [DECISION]}))
    f = t.fields[0]
    assert (f.field_type, f.options) == ("choice", ("Allow", "Allow for session", "Deny"))
    assert parse_template(t.to_json()) == t
    assert json.loads(t.to_json())["fields"][0]["options"] == DECISION["options"]
    assert "options" not in json.loads(_tmpl().to_json())["fields"][0]  # only on choices
    assert json.loads(build_result(t, {"decision": "Allow for session"})) == {
        "decision": "Allow for session"}
    for bad in ("allow", "Allow ", "Maybe", ""):
        with pytest.raises(TemplateError, match="choose one of the options"):
            build_result(t, {"decision": bad})
    assert parse_result('{"decision": "Deny"}', t) == {"decision": "Deny"}
    with pytest.raises(DialogError, match="not one of its options") as info:
        parse_result('{"decision": "canary-Yes please"}', t)
    assert "canary" not in str(info.value)
    with pytest.raises(DialogError, match="required field 'decision'"):
        parse_result("{}", t)


def test_optional_choice_may_be_left_unanswered_and_default_must_be_an_option() -> None:
    t = Template("T", [Field("mode", "Mode", "choice", options=("fast", "safe"),
                             default="safe")])
    assert t.fields[0].options == ("fast", "safe")
    assert json.loads(build_result(t, {"mode": ""})) == {}
    with pytest.raises(TemplateError, match="default is not valid: choose one of the options"):
        Field("mode", "Mode", "choice", options=("fast", "safe"), default="slow")


CHOICE_HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "no options": ({**DECISION, "options": None}, "needs options"),
    "missing options": ({k: v for k, v in DECISION.items() if k != "options"}, "needs options"),
    "one option": ({**DECISION, "options": ["Allow"]}, "a choice needs 2 to 10"),
    "eleven options": ({**DECISION, "options": [f"o{i}" for i in range(11)]},
                       "a choice needs 2 to 10"),
    "duplicates": ({**DECISION, "options": ["Allow", "Allow"]}, "must be distinct"),
    "empty option": ({**DECISION, "options": ["Allow", "  "]}, "options[1] is empty"),
    "long option": ({**DECISION, "options": ["Allow", "x" * 101]}, "the limit is 100"),
    "option not a string": ({**DECISION, "options": ["Allow", 3]}, "must be a string"),
    "control char": ({**DECISION, "options": ["Allow", "De\nny"]}, "control character"),
    "bidi override": ({**DECISION, "options": ["Allow", "\u202eyneD"]}, "U+202E"),
    "options not a list": ({**DECISION, "options": "Allow,Deny"}, "must be an array"),
    "options on a text field": ({**DECISION, "field_type": "text"},
                                "options belong to choice fields only"),
    "default not an option": ({**DECISION, "default": "Sure"}, "default is not valid"),
}


@pytest.mark.parametrize("case", sorted(CHOICE_HOSTILE))
def test_bad_choice_fields_are_refused(case: str) -> None:
    field, reason = CHOICE_HOSTILE[case]
    with pytest.raises(TemplateError, match=re.escape(reason)):
        parse_template(json.dumps({**GOOD, "fields": [field]}))
    r = _run(json.dumps({**GOOD, "fields": [field]}).encode())
    assert r.returncode == EXIT_ERROR and r.stderr.decode().count("\n") == 1


# ----------------------------------------------------------------- never a stray exception


def test_huge_integers_and_non_string_keys_are_template_errors() -> None:
    huge = b'{"title": "t", "fields": [], "x": ' + b"9" * 5000 + b"}"
    with pytest.raises(TemplateError, match="number too large"):
        parse_template(huge)
    r = _run(huge)
    assert r.returncode == EXIT_ERROR and "bad template" in r.stderr.decode()
    from mcp_secrets.dialog.protocol import template_from_dict

    with pytest.raises(TemplateError, match="not a string"):
        template_from_dict({"title": "t", 1: "x", "fields": []})
    with pytest.raises(TemplateError, match="not a string"):
        template_from_dict({"title": "t", "fields": [{"name": "a", "field_type": "text",
                                                       None: 1}]})
    with pytest.raises(TemplateError, match="fields must be a list"):
        Template("t", 5)  # type: ignore[arg-type]


def _random_json(rng: Any, depth: int = 0) -> Any:
    pick = rng.randrange(10 if depth < 3 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 10**30, 1.5, float("1e308")])
    if pick in (3, 4, 5):
        return rng.choice(["", "a", "x" * 300, "\u202e", "Allow", "text", "choice",
                           "password", "url", "email", "https://a.example", "\x00"])
    if pick in (6, 7):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["title", "description", "fields", "name", "label", "field_type", "required",
            "default", "placeholder", "help_text", "options", "zz"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def _random_template(rng: Any) -> Any:
    fields = []
    for i in range(rng.randrange(4)):
        f = {"name": rng.choice([f"f{i}", _random_json(rng)]),
             "field_type": rng.choice(["text", "choice", "url", _random_json(rng)])}
        for key in ("label", "required", "default", "placeholder", "help_text", "options"):
            if rng.random() < 0.4:
                f[key] = rng.choice([_random_json(rng), ["Allow", "Deny"], "Allow"])
        fields.append(f)
    tmpl = {"title": rng.choice(["T", _random_json(rng)]), "fields": fields}
    if rng.random() < 0.3:
        tmpl[rng.choice([1, None, "x"])] = 1  # non-string keys reach template_from_dict
    return tmpl


def test_fuzzed_templates_only_ever_raise_template_error() -> None:
    import random

    from mcp_secrets.dialog.protocol import template_from_dict

    rng = random.Random(20261123)
    for _ in range(3000):
        raw = _random_template(rng) if rng.random() < 0.7 else _random_json(rng)
        with contextlib.suppress(TemplateError):
            template_from_dict(raw)
        with contextlib.suppress(TemplateError):
            parse_template(json.dumps(raw, default=str, skipkeys=True))


# ----------------------------------------------------------------- sizes agree end to end


def test_a_template_a_dialog_would_refuse_cannot_be_sent() -> None:
    """Per-field limits allow ~500 KB; what `to_json` sends must fit what a dialog reads."""
    fields = [Field(f"f{i}", "L" * protocol.MAX_LABEL, "text", default="d" * protocol.MAX_DEFAULT,
                    help_text="h" * protocol.MAX_HELP) for i in range(protocol.MAX_FIELDS)]
    big = Template("T", fields)  # every field is within its own limits
    with pytest.raises(TemplateError, match="a dialog reads at most 64 KiB"):
        big.to_json()
    # Anything to_json does produce, the dialog's reader accepts.
    fits = Template("T", fields[:5])
    assert parse_template(fits.to_json().encode()) == fits


def test_values_too_large_together_are_refused_with_a_reason() -> None:
    t = Template("T", [Field(f"f{i}", field_type="password") for i in range(20)])
    values = {f"f{i}": "v" * protocol.MAX_VALUE for i in range(20)}  # each within its limit
    with pytest.raises(TemplateError, match="values together are longer") as info:
        build_result(t, values)
    assert "vvvv" not in str(info.value)
    from mcp_secrets.dialog.launcher import MAX_STDOUT

    assert MAX_STDOUT >= protocol.MAX_RESULT_BYTES + 1  # the launcher reads all a dialog may send


# ----------------------------------------------------------------- no value in an error

LEAK = "canary-LEAK-4k2Pq9"


@pytest.mark.parametrize("output", [
    f"not json {LEAK}",
    json.dumps([LEAK]),
    json.dumps({"key": LEAK, "zzz": LEAK}),
    json.dumps({"key": LEAK, "url": 5}),
    json.dumps({"key": LEAK, "decision": LEAK}),
    json.dumps({"url": LEAK}),  # the required "key" is missing
])
def test_refused_output_leaves_no_value_in_the_exception(output: str) -> None:
    from tests.leaks import assert_absent

    t = Template("T", [*_tmpl().fields,
                       Field("decision", field_type="choice", options=("Allow", "Deny"))])
    with pytest.raises(DialogError) as info:
        parse_result(output, t)
    assert_absent(info.value, LEAK)


def test_refused_template_or_values_leave_no_value_in_the_exception() -> None:
    from mcp_secrets.dialog.protocol import template_from_dict
    from tests.leaks import assert_absent

    prefilled = _with_field(default=LEAK, field_type="email")  # not an address: refused
    for attempt in (lambda: parse_template(json.dumps(prefilled)),
                    lambda: parse_template(json.dumps(prefilled)[:-3]),  # broken JSON
                    lambda: template_from_dict(prefilled)):
        with pytest.raises(TemplateError) as info:
            attempt()
        assert_absent(info.value, LEAK)
    with pytest.raises(TemplateError) as info:
        build_result(_tmpl(), {"key": LEAK, "url": LEAK})
    assert_absent(info.value, LEAK)
