"""The dialog protocol: template in on stdin, values out on stdout, exit code.

Stdlib only, so the dialog starts fast and callers can build templates without Tk.

Template::

    {"title": str, "description": str,
     "fields": [{"name", "label", "field_type", "required", "default", "placeholder",
                 "help_text", "options"}]}

``field_type`` is ``text``, ``password``, ``url``, ``email`` or ``choice``. A ``choice`` field
lists 2-10 distinct non-empty ``options`` (each at most 100 characters, the text rules of a
label); its value is exactly one of them, and so is its ``default`` if given. ``options``
belongs to ``choice`` fields only. The verification code is the first ``XXXX-XXXX`` in the
description.

Rules chosen here (other programs speaking this protocol, such as the original Rust dialogs,
accept the same input, except that they predate ``choice``):

- ``title`` and ``fields`` and each field's ``name`` and ``field_type`` are required; ``label``
  defaults to the name, ``required`` to ``false``, the other strings to empty/``null``.
- Unknown keys are *rejected*: a typo such as ``"requried"`` must not silently make a
  secret optional.
- Result: one JSON object holding every field the human filled in. An optional field left
  empty is *omitted* (so "key present" means "the human gave a value"); a placeholder is
  never a value. ``text``/``url``/``email`` values are stripped of surrounding whitespace;
  a ``password`` only loses a pasted trailing newline.
- Exit codes: 0 collected, 1 cancelled or closed, 2 error (one ``error: ...`` line on stderr),
  3 no display: no window can be shown here (one ``error: ...`` line on stderr).
- Sizes: what `Template.to_json` sends is at most MAX_TEMPLATE_BYTES (the dialog's read cap),
  and a result is at most MAX_RESULT_BYTES (the launcher's read cap); the per-field limits
  alone would allow far more, so both totals are checked where the payload is made.
- A field name is 1-128 printable characters without surrounding whitespace; whether it is
  also a valid *secret* name is the caller's business (the dialog knows nothing of storage).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, ParamSpec, TypeVar, cast

from mcp_secrets.errors import DialogError
from mcp_secrets.errors import TemplateError as TemplateError  # part of this module's API

EXIT_OK = 0
EXIT_CANCELLED = 1
EXIT_ERROR = 2
EXIT_NO_DISPLAY = 3

FieldType = Literal["text", "password", "url", "email", "choice"]
FIELD_TYPES: tuple[FieldType, ...] = ("text", "password", "url", "email", "choice")

#: Hostile-input limits: a real template is a few hundred bytes with one to five fields.
MAX_TEMPLATE_BYTES = 64 * 1024
MAX_FIELDS = 50
MAX_DEPTH = 8  # a real template nests 3 deep: object -> fields list -> field object
MAX_TITLE = 200
MAX_DESCRIPTION = 4000
MAX_LABEL = 200
MAX_HELP = 1000
MAX_PLACEHOLDER = 200
MAX_DEFAULT = 8192
MAX_VALUE = 64 * 1024
MAX_NAME = 128
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_OPTION = 100
#: The stdout payload of one answer; the launcher reads at most this (plus a newline).
MAX_RESULT_BYTES = 1024 * 1024

_TOP_KEYS = frozenset({"title", "description", "fields"})
_FIELD_KEYS = frozenset(
    {"name", "label", "field_type", "required", "default", "placeholder", "help_text", "options"}
)
# Bidirectional overrides can make a label read differently from what it says (spoofing).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?")
VERIFICATION_CODE_RE = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b")


@dataclass(frozen=True, slots=True)
class Field:
    """One input row. ``Field("api_key", "API Key", "password", required=True)``.

    An empty label becomes the name, so a parsed template equals the one that was built.
    """

    name: str
    label: str = ""
    field_type: FieldType = "text"
    required: bool = False
    default: str | None = None
    placeholder: str | None = None
    help_text: str | None = None
    #: The answers of a ``choice`` field, in the order shown; None for every other type.
    options: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.options, list):
            object.__setattr__(self, "options", tuple(self.options))
        _check_field(self)

    def __repr__(self) -> str:
        # The default may be a pre-filled credential: never show it.
        shown = "None" if self.default is None else "'***'"
        return (
            f"Field(name={self.name!r}, label={self.label!r}, field_type={self.field_type!r}, "
            f"required={self.required!r}, default={shown}"
            + (f", options={self.options!r})" if self.options is not None else ")")
        )

    @property
    def display_label(self) -> str:
        return self.label or self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.display_label,
            "field_type": self.field_type,
            "required": self.required,
            "default": self.default,
            "placeholder": self.placeholder,
            "help_text": self.help_text,
        }
        if self.options is not None:  # only choice fields: older dialogs reject the key
            out["options"] = list(self.options)
        return out


@dataclass(frozen=True, slots=True)
class Template:
    """What the dialog shows. Build one server-side and send ``to_json()`` on stdin."""

    title: str
    fields: tuple[Field, ...]
    description: str = ""

    def __init__(self, title: str, fields: Iterable[Field], description: str = "") -> None:
        object.__setattr__(self, "title", title)
        if isinstance(fields, (str, bytes, Mapping)) or not isinstance(fields, Iterable):
            raise TemplateError(f"fields must be a list of fields, not {_type_name(fields)}")
        object.__setattr__(self, "fields", tuple(fields))
        object.__setattr__(self, "description", description)
        _check_template(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
        }

    def to_json(self) -> str:
        """The exact stdin payload for any dialog speaking this protocol.

        Raises TemplateError if it is larger than a dialog reads (MAX_TEMPLATE_BYTES): each
        field's limits are generous, so many long help texts or defaults can add up.
        """
        payload = json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":"))
        if len(payload) > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                f"template is {len(payload)} bytes as JSON; a dialog reads at most "
                f"{MAX_TEMPLATE_BYTES // 1024} KiB: shorten the help texts, defaults or "
                "description, or ask for fewer fields at a time"
            )
        return payload

    @property
    def verification_code(self) -> str | None:
        """The first ``XXXX-XXXX`` code in the description, shown large by the Tk dialog."""
        match = VERIFICATION_CODE_RE.search(self.description)
        return match.group(0) if match else None


# ---------------------------------------------------------------- validation helpers


def _short(text: str, limit: int = 40) -> str:
    """A safe, one-line rendering of a *non-secret* piece of input for an error message."""
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _check_text(what: str, value: object, limit: int, *, multiline: bool = False) -> str:
    if not isinstance(value, str):
        raise TemplateError(f"{what} must be a string, not {_type_name(value)}")
    if len(value) > limit:
        raise TemplateError(f"{what} is {len(value)} characters long; the limit is {limit}")
    for ch in value:
        if multiline and ch in "\n\t":
            continue
        if ch in _BIDI or unicodedata.category(ch) in ("Cc", "Cs"):
            raise TemplateError(f"{what} contains a control character (U+{ord(ch):04X})")
    return value


def _type_name(value: object) -> str:
    return {type(None): "null", bool: "boolean", int: "number", float: "number",
            str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


def _check_name(name: object) -> str:
    """A field name is the key of its value in the result: printable and unambiguous."""
    if not isinstance(name, str):
        raise TemplateError(f"field name must be a string, not {_type_name(name)}")
    if not name:
        raise TemplateError("field name must not be empty")
    if len(name) > MAX_NAME:
        raise TemplateError(f"field name is {len(name)} characters long; the limit is {MAX_NAME}")
    if name != name.strip():
        raise TemplateError(f"field name {_short(name.strip())} must not start or end with "
                            "whitespace")
    for ch in name:
        if ch in _BIDI or unicodedata.category(ch).startswith("C"):
            raise TemplateError(
                f"field name contains a control or unprintable character (U+{ord(ch):04X})"
            )
    return name


def _check_options(where: str, f: Field) -> None:
    options = f.options
    if f.field_type != "choice":
        if options is not None:
            raise TemplateError(f"{where}: options belong to choice fields only")
        return
    if options is None:
        raise TemplateError(f"{where}: a choice field needs options (a list of "
                            f"{MIN_OPTIONS}-{MAX_OPTIONS} strings)")
    if not isinstance(options, tuple):
        raise TemplateError(f"{where}: options must be a list of strings, not "
                            f"{_type_name(options)}")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise TemplateError(f"{where}: options has {len(options)} entries; a choice needs "
                            f"{MIN_OPTIONS} to {MAX_OPTIONS}")
    for i, option in enumerate(options):
        _check_text(f"{where}: options[{i}]", option, MAX_OPTION)
        if not option.strip():
            raise TemplateError(f"{where}: options[{i}] is empty")
    if len(set(options)) != len(options):
        raise TemplateError(f"{where}: options must be distinct")


def _check_field(f: Field) -> None:
    _check_name(f.name)
    if not f.label:
        object.__setattr__(f, "label", f.name)
    where = f"field {f.name!r}"
    _check_text(f"{where}: label", f.label, MAX_LABEL)
    if not isinstance(f.field_type, str) or f.field_type not in FIELD_TYPES:
        shown = _short(f.field_type) if isinstance(f.field_type, str) else _type_name(f.field_type)
        raise TemplateError(
            f"{where}: unknown field_type {shown}; use one of {', '.join(FIELD_TYPES)}"
        )
    _check_options(where, f)
    if not isinstance(f.required, bool):
        raise TemplateError(
            f"{where}: required must be true or false, not {_type_name(f.required)}"
        )
    for key, limit in (("placeholder", MAX_PLACEHOLDER), ("help_text", MAX_HELP)):
        value = getattr(f, key)
        if value is not None:
            _check_text(f"{where}: {key}", value, limit, multiline=key == "help_text")
    if f.default is not None:
        if not isinstance(f.default, str):
            raise TemplateError(f"{where}: default must be a string, not {_type_name(f.default)}")
        if len(f.default) > MAX_DEFAULT:
            raise TemplateError(f"{where}: default is too long; the limit is {MAX_DEFAULT}")
        if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in f.default):
            raise TemplateError(f"{where}: default contains a control character")
        problem = field_problem(f, f.default)
        if f.default and problem:
            raise TemplateError(f"{where}: default is not valid: {problem}")


def _check_template(t: Template) -> None:
    _check_text("title", t.title, MAX_TITLE)
    if not t.title.strip():
        raise TemplateError("title must not be empty")
    _check_text("description", t.description, MAX_DESCRIPTION, multiline=True)
    if not t.fields:
        raise TemplateError("fields must list at least one field")
    if len(t.fields) > MAX_FIELDS:
        raise TemplateError(f"template has {len(t.fields)} fields; the limit is {MAX_FIELDS}")
    seen: set[str] = set()
    for f in t.fields:
        if not isinstance(f, Field):
            raise TemplateError(f"fields must hold Field objects, not {_type_name(f)}")
        if f.name in seen:
            raise TemplateError(f"duplicate field name {f.name!r}")
        seen.add(f.name)


# ---------------------------------------------------------------- value validators


def validate_url(value: str) -> str | None:
    """None if `value` is an http(s) URL with a host; else a short reason for the human."""
    if not value:
        return "enter a URL"
    if any(ch.isspace() for ch in value) or any(unicodedata.category(c) == "Cc" for c in value):
        return "a URL cannot contain spaces"
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port  # raises ValueError for a non-numeric or out-of-range port
    except ValueError:
        return "this is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "the URL must start with https:// or http://"
    host = parts.hostname or ""
    if not host:
        return "the URL needs a host name, e.g. https://api.example.com"
    if "\\" in value or not _host_ok(host) or port == 0:
        return "the URL's host name is not valid"
    return None


def _host_ok(host: str) -> bool:
    """A DNS name (IDNA allowed), an IPv4 address, or a bracketed IPv6 address."""
    if ":" in host:
        import ipaddress

        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return False
        return True
    try:
        labels = host.rstrip(".").encode("idna").decode("ascii").split(".")
    except UnicodeError:
        return False
    return all(_LABEL_RE.fullmatch(label) for label in labels)


_LOCAL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+)*")


def validate_email(value: str) -> str | None:
    """None if `value` is a practical address (RFC 5322 dot-atom subset); else a reason."""
    if not value:
        return "enter an e-mail address"
    if any(ch.isspace() for ch in value):
        return "an e-mail address cannot contain spaces"
    if value.count("@") != 1:
        return "an e-mail address has exactly one @, e.g. name@example.com"
    local, domain = value.split("@")
    if not local:
        return "the part before the @ is empty"
    if len(local) > 64 or len(value) > 254:
        return "this e-mail address is too long"
    if not _LOCAL_RE.fullmatch(local):
        return "the part before the @ contains characters that are not allowed"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return "the domain after the @ needs a dot, e.g. example.com"
    try:
        ascii_labels = domain.encode("idna").decode("ascii").split(".")
    except UnicodeError:
        return "the domain after the @ is not valid"
    if not all(_LABEL_RE.fullmatch(label) for label in ascii_labels):
        return "the domain after the @ is not valid"
    return None


def clean_value(f: Field, raw: str) -> str:
    """The value as it will be returned: trimmed for text-like fields, pasted newline dropped,
    a choice exactly as its option reads."""
    if f.field_type == "password":
        return raw.rstrip("\r\n")
    if f.field_type == "choice":
        return raw
    return raw.strip()


def field_problem(f: Field, raw: str) -> str | None:
    """None if `raw` is acceptable for `f`, else a reason to show inline (never echoes `raw`)."""
    value = clean_value(f, raw)
    if f.field_type == "choice":
        if not value:
            return "choose one of the options" if f.required else None
        return None if f.options and value in f.options else "choose one of the options"
    if not value.strip():
        return "this field is required" if f.required else None
    if len(value) > MAX_VALUE:
        return f"too long (the limit is {MAX_VALUE} characters)"
    if f.field_type == "url":
        return validate_url(value)
    if f.field_type == "email":
        return validate_email(value)
    return None


# ---------------------------------------------------------------- parsing

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _value_free_errors(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Raise `fn`'s DialogError as a fresh copy from a frame that no longer holds the input.

    Templates carry pre-filled defaults and results carry typed secrets; error reporters
    (Sentry and the like) ship an exception's chain and every frame's locals, so the error
    that leaves this module has neither a chain nor a frame that saw the input.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except DialogError as exc:
            failure = type(exc)(str(exc))
        del args, kwargs
        raise failure

    return wrapper



@_value_free_errors
def read_template(stream: BinaryIO) -> Template:
    """Read at most MAX_TEMPLATE_BYTES + 1 bytes, so a 10 MB or endless input fails fast."""
    data = stream.read(MAX_TEMPLATE_BYTES + 1)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    return parse_template(data)


@_value_free_errors
def parse_template(data: bytes | str) -> Template:
    """Parse and validate one JSON template; raise TemplateError with a one-line reason."""
    if isinstance(data, bytes):
        if len(data) > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateError("template is not valid UTF-8") from None
    else:
        text = data
        if len(text) > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    if not text.strip():
        raise TemplateError("no template on stdin (expected one JSON object)")
    _check_depth(text)
    try:
        raw = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"template is not valid JSON: {exc.msg} at line {exc.lineno} "
                            f"column {exc.colno}") from None
    except RecursionError:  # belt and braces: _check_depth should have caught it
        raise TemplateError("template is nested too deeply") from None
    except TemplateError:
        raise
    except ValueError:  # e.g. an integer of more digits than Python converts
        raise TemplateError("template holds a number too large to read") from None
    return template_from_dict(raw)


def _check_depth(text: str) -> None:
    """Reject deep nesting before json.loads can recurse (a 10k-deep array is 20 KB)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise TemplateError(f"template is nested more than {MAX_DEPTH} levels deep")
        elif ch in "]}":
            depth -= 1


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise TemplateError(f"duplicate key {_short(key)} in a JSON object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise TemplateError(f"template contains {name}, which is not JSON")


@_value_free_errors
def template_from_dict(raw: object) -> Template:
    """Validate an already-decoded template (e.g. from a caller that built a dict).

    Raises only TemplateError, whatever `raw` holds.
    """
    try:
        return _template_from_dict(raw)
    except TemplateError:
        raise
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:
        # A shape no check above foresaw: still a one-line refusal, never a traceback.
        raise TemplateError(f"template is not valid ({type(exc).__name__})") from None


def _template_from_dict(raw: object) -> Template:
    if not isinstance(raw, dict):
        raise TemplateError(f"template must be a JSON object, not {_type_name(raw)}")
    _reject_unknown("template", raw, _TOP_KEYS)
    if "title" not in raw:
        raise TemplateError('template is missing "title"')
    if "fields" not in raw:
        raise TemplateError('template is missing "fields"')
    fields_raw = raw["fields"]
    if not isinstance(fields_raw, list):
        raise TemplateError(f"fields must be an array, not {_type_name(fields_raw)}")
    if len(fields_raw) > MAX_FIELDS:
        raise TemplateError(f"template has {len(fields_raw)} fields; the limit is {MAX_FIELDS}")
    fields = tuple(_field_from_dict(i, item) for i, item in enumerate(fields_raw))
    description = raw.get("description")
    return Template(
        title=cast(str, raw["title"]),
        fields=fields,
        description="" if description is None else cast(str, description),
    )


def _field_from_dict(index: int, raw: object) -> Field:
    if not isinstance(raw, dict):
        raise TemplateError(f"fields[{index}] must be an object, not {_type_name(raw)}")
    _reject_unknown(f"fields[{index}]", raw, _FIELD_KEYS)
    for key in ("name", "field_type"):
        if key not in raw:
            raise TemplateError(f'fields[{index}] is missing "{key}"')
    name = raw["name"]
    if not isinstance(name, str):
        raise TemplateError(f"fields[{index}]: name must be a string, not {_type_name(name)}")
    label = raw.get("label")
    required = raw.get("required")
    options = raw.get("options")
    if options is not None and not isinstance(options, list):
        raise TemplateError(f"fields[{index}]: options must be an array of strings, not "
                            f"{_type_name(options)}")
    return Field(
        name=name,
        label="" if label is None else label,
        field_type=raw["field_type"],
        required=False if required is None else required,
        default=raw.get("default"),
        placeholder=raw.get("placeholder"),
        help_text=raw.get("help_text"),
        options=None if options is None else tuple(options),
    )


def _reject_unknown(where: str, raw: Mapping[Any, Any], allowed: frozenset[str]) -> None:
    for key in raw:
        if not isinstance(key, str):
            raise TemplateError(f"{where} has a key that is a {_type_name(key)}, not a string")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise TemplateError(
            f"{where} has unknown key {_short(unknown[0])}; allowed: {', '.join(sorted(allowed))}"
        )


# ---------------------------------------------------------------- result


@_value_free_errors
def build_result(template: Template, values: Mapping[str, str]) -> str:
    """The stdout payload: every filled-in field, cleaned; raises TemplateError if invalid.

    The error names the field and the rule, never the value.
    """
    unknown = set(values) - {f.name for f in template.fields}
    if unknown:
        raise TemplateError(f"result has a value for unknown field {sorted(unknown)[0]!r}")
    out: dict[str, str] = {}
    for f in template.fields:
        raw = values.get(f.name, "")
        problem = field_problem(f, raw)
        if problem:
            raise TemplateError(f"field {f.name!r}: {problem}")
        value = clean_value(f, raw)
        if value.strip():
            out[f.name] = value
    payload = json.dumps(out, ensure_ascii=True)
    if len(payload) > MAX_RESULT_BYTES:
        raise TemplateError(result_too_large())
    return payload


def result_too_large() -> str:
    return (f"the values together are longer than the {MAX_RESULT_BYTES // 1024} KiB a dialog "
            "may return; store very long values with `mcp-secrets set` instead")


@_value_free_errors
def parse_result(stdout: bytes | str, template: Template) -> dict[str, str]:
    """For callers: decode a dialog's stdout and check it against the template.

    Raises DialogError with a message that never contains any of the output: not a value,
    and not an unknown key either (a broken or hostile dialog may put anything there).
    """
    try:
        data = json.loads(stdout)
    except (ValueError, RecursionError):
        raise DialogError(
            "the credential dialog's output is not JSON, and so not a JSON object of values"
        ) from None
    if not isinstance(data, dict):
        raise DialogError(
            f"the credential dialog's output is a JSON {_type_name(data)}, not an object"
        )
    names = {f.name for f in template.fields}
    unknown = [key for key in data if key not in names]
    if unknown:
        raise DialogError(
            f"the credential dialog returned {len(unknown)} unknown field(s) the template did "
            f"not ask for; expected only: {', '.join(sorted(names))}"
        )
    by_name = {f.name: f for f in template.fields}
    for key, value in data.items():
        if not isinstance(value, str):
            raise DialogError(f"the credential dialog returned a non-string value (a "
                              f"{_type_name(value)}) for field {key!r}")
        options = by_name[key].options
        if options is not None and value not in options:
            raise DialogError(f"the credential dialog returned an answer for choice field "
                              f"{key!r} that is not one of its options")
    missing = [f.name for f in template.fields if f.required and not data.get(f.name)]
    if missing:
        raise DialogError("the credential dialog returned no value for "
                          + ", ".join(f"required field {n!r}" for n in missing))
    return dict(data)
