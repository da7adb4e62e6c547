"""Masking: replace secret values in a byte stream by a marker before anyone downstream sees it.

Built for a child process's stdout and stderr (`mcp-secrets run`), and reusable wherever output
must not carry a value (a proxy, a tool-result guard). An MCP stdio server speaks JSON-RPC, one
message per line, so masking has to keep every line valid JSON:

* A line that parses as JSON and might hold a value is decoded, every string (keys too) is
  masked, and the message is encoded again. This finds a value in *any* JSON escaping (``\\"``,
  ``\\\\``, ``\\u00e9``, ``\\/``, surrogate pairs) and the result is still valid JSON-RPC.
* Any other line is masked byte-wise: the raw UTF-8 form of each value and its common JSON
  escaped forms.
* A value split across reads is caught: an unfinished line is held back while it may be a JSON
  message; otherwise everything but a tail as long as the longest form is passed on at once,
  so a prompt without a newline still shows up promptly. A newline flushes the line whole.

Values shorter than `MIN_LENGTH` characters are not masked (masking "1" or "id" would mangle
every message); `Masker.unmaskable` names them so the caller can say so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

MARKER = "<concealed by mcp-secrets>"
MIN_LENGTH = 4
#: An unfinished line that looks like JSON is held back up to this size, then masked byte-wise.
MAX_HELD_LINE = 64 * 1024 * 1024
#: Printable ASCII that JSON never escapes (not `"`, `\`, nor `/`, which may be written `\/`).
_SAFE_RUN = re.compile(r"[ !#-.0-\[\]-~]+")


def _json_forms(value: str) -> set[bytes]:
    """The byte sequences `value` may take inside a JSON string, plus its raw UTF-8 form and
    Python's repr of it (an error message or log line written with `{key!r}` or `%r`)."""
    plain = json.dumps(value, ensure_ascii=False)[1:-1]
    ascii_ = json.dumps(value, ensure_ascii=True)[1:-1]
    forms = {value, plain, ascii_, ascii_.replace("/", "\\/"), plain.replace("/", "\\/"),
             *_repr_forms(value)}
    upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), ascii_)
    forms.add(upper)
    return {_utf8(f) for f in forms}


def _repr_forms(value: str) -> tuple[str, str]:
    """`repr(value)` and `ascii(value)` without their quotes."""
    return repr(value)[1:-1], ascii(value)[1:-1]


def _utf8(text: str) -> bytes:
    """The bytes `text` is written as: undecodable bytes that Python read from the environment
    as surrogates come back as themselves."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


class Masker:
    """The values to hide, compiled once; make one `StreamMasker` per stream from it."""

    def __init__(self, values: Iterable[str], marker: str = MARKER) -> None:
        wanted = {v for v in values if isinstance(v, str)}
        # Too short to mask: the caller names their variables; never print these.
        self.unmaskable = sorted(v for v in wanted if len(v) < MIN_LENGTH)
        # Output is masked line by line, so a multi-line value (a PEM key) printed raw would
        # slip through whole: each of its lines is masked on its own as well.
        for v in list(wanted):
            if "\n" in v or "\r" in v:
                wanted |= {p.strip() for p in v.splitlines() if len(p.strip()) >= MIN_LENGTH}
        self.values = sorted((v for v in wanted if len(v) >= MIN_LENGTH), key=len, reverse=True)
        self.marker = marker
        self._marker_bytes = marker.encode()
        forms: set[bytes] = set()
        for v in self.values:
            forms |= _json_forms(v)
        ordered = sorted(forms, key=len, reverse=True)  # longest first: no partial replacement
        self.max_form = len(ordered[0]) if ordered else 0
        self._by_first: dict[int, list[bytes]] = {}
        for form in ordered:
            self._by_first.setdefault(form[0], []).append(form)
        self._bytes_re = re.compile(b"|".join(re.escape(f) for f in ordered)) if ordered else None
        # Without "\u" in a line, a JSON string can hold a value only in these exact forms.
        simple = {_utf8(v) for v in self.values}
        for v in self.values:
            esc = json.dumps(v, ensure_ascii=False)[1:-1]
            simple |= {_utf8(esc), _utf8(esc.replace("/", "\\/")), *map(_utf8, _repr_forms(v))}
        self._simple_re = (re.compile(b"|".join(re.escape(f) for f in sorted(
            simple, key=len, reverse=True))) if simple else None)
        self._str_re = (re.compile("|".join(re.escape(v) for v in self.values))
                        if self.values else None)
        # A quick "surely absent" test for encoded data: each value's longest run of characters
        # JSON never escapes shows verbatim in every form, however many times it was escaped.
        probes = [max(_SAFE_RUN.findall(v), key=len, default="") for v in self.values]
        self._probe_re = (None if any(len(p) < MIN_LENGTH for p in probes) or not probes else
                          re.compile(b"|".join(re.escape(p.encode()) for p in set(probes))))
        # Every form as text, for strings that may hold JSON written by someone else (a tool
        # returning json.dumps(...) as text): the output guard masks those.
        self._forms_re = (re.compile("|".join(re.escape(f.decode("utf-8", "surrogateescape"))
                                              for f in ordered)) if ordered else None)

    def __bool__(self) -> bool:
        return self._bytes_re is not None

    def __repr__(self) -> str:
        return f"<Masker of {len(self.values)} value(s)>"

    def stream(self) -> StreamMasker:
        return StreamMasker(self)

    # -------------------------------------------------------------- whole units

    def mask_text(self, text: str) -> str:
        """`text` with every value replaced by the marker."""
        return self._str_re.sub(self.marker, text) if self._str_re else text

    def mask_string(self, text: str) -> str:
        """`text` with every value replaced by the marker, raw or in any JSON-escaped form
        (`mask_text` knows the raw form only: enough for strings already decoded from JSON)."""
        return self._forms_re.sub(self.marker, text) if self._forms_re else text

    def finds(self, text: str | bytes) -> bool:
        """Whether `text` (or UTF-8 bytes) holds a value, raw or in any JSON-escaped form."""
        if isinstance(text, bytes):
            return self._bytes_re is not None and self._bytes_re.search(text) is not None
        return self._forms_re is not None and self._forms_re.search(text) is not None

    def may_hold(self, data: bytes) -> bool:
        """False only when no value can be in `data` in any form, JSON-escaped to any depth
        (one search; True may be a false alarm: then look closer)."""
        if not self.values:
            return False
        return self._probe_re is None or self._probe_re.search(data) is not None

    def mask_bytes(self, data: bytes) -> bytes:
        """Byte-wise: raw and JSON-escaped forms of every value replaced by the marker."""
        return self._bytes_re.sub(self._marker_bytes, data) if self._bytes_re else data

    def mask_line(self, line: bytes) -> bytes:
        """One complete line (with or without its newline): JSON stays JSON."""
        if self._bytes_re is None:
            return line
        if b"\\u" not in line and (self._simple_re is None or not self._simple_re.search(line)):
            return line  # the fast path: no value can be in here, in any form
        body = line.rstrip(b"\r\n")
        end = line[len(body):]
        stripped = body.strip()
        if stripped[:1] in (b"{", b"["):
            try:
                message = json.loads(stripped)
            except ValueError:
                pass
            else:
                masked, changed = self._mask_json(message)
                if changed:
                    return json.dumps(masked, ensure_ascii=False,
                                      separators=(",", ":")).encode() + end
                # Still here: the value spans JSON structure or is a number. Hiding it wins
                # over keeping the line valid JSON.
        return self.mask_bytes(body) + end

    def partial_start(self, buf: bytes, start: int) -> int:
        """The first i >= start where buf[i:] is the beginning of some form (a value that may
        be completed by the next read); len(buf) if there is none."""
        start = max(start, 0)
        best = len(buf)
        for first, forms in self._by_first.items():
            i = buf.find(first, start, best)
            while i != -1:
                tail = buf[i:]
                if any(f.startswith(tail) for f in forms):
                    best = i
                    break
                i = buf.find(first, i + 1, best)
        return best

    def mask_json(self, message: Any) -> Any:
        """A decoded JSON value with every string (and key) masked."""
        return self._mask_json(message)[0]

    def _mask_json(self, obj: Any) -> tuple[Any, bool]:
        if isinstance(obj, str):
            masked = self.mask_text(obj)
            return masked, masked != obj
        if isinstance(obj, list):
            changed = False
            items = []
            for item in obj:
                new, c = self._mask_json(item)
                items.append(new)
                changed |= c
            return items, changed
        if isinstance(obj, dict):
            changed = False
            out = {}
            for key, item in obj.items():
                new_key, c1 = self._mask_json(key)
                new, c2 = self._mask_json(item)
                out[new_key] = new
                changed |= c1 or c2
            return out, changed
        return obj, False


class StreamMasker:
    """Masks one stream fed in arbitrary pieces: `feed()` what you read, `close()` at EOF."""

    def __init__(self, masker: Masker) -> None:
        self._m = masker
        self._parts: list[bytes] = []  # an unfinished JSON line, or a tail held back
        self._held = 0
        self._holding_json = False
        self._line_start = True  # do the held bytes begin a line?

    def feed(self, data: bytes) -> bytes:
        """What can be passed on now; the rest waits for more data (see the module docstring)."""
        m = self._m
        if not m:
            return data
        if (self._holding_json and b"\n" not in data
                and self._held + len(data) <= MAX_HELD_LINE):
            self._parts.append(data)  # a long JSON message in many reads: no re-copying
            self._held += len(data)
            return b""
        buf = b"".join(self._parts) + data if self._parts else data
        out = []
        cut = buf.rfind(b"\n") + 1
        if cut:
            out += [m.mask_line(line + b"\n") for line in buf[:cut - 1].split(b"\n")]
            buf = buf[cut:]
            self._line_start = True
        self._holding_json = (self._line_start and buf[:1] in (b"{", b"[")
                              and len(buf) <= MAX_HELD_LINE)
        if self._holding_json:
            tail = buf  # an unfinished JSON message: hold it until its newline
        else:
            done, tail = self._safe_prefix(buf)
            if done:
                self._line_start = False
            out.append(done)
        self._parts = [tail] if tail else []
        self._held = len(tail)
        return b"".join(out)

    def close(self) -> bytes:
        """Everything still held, masked (the stream ended)."""
        rest = b"".join(self._parts)
        self._parts, self._held, self._holding_json = [], 0, False
        return self._m.mask_line(rest) if rest else b""

    def _safe_prefix(self, buf: bytes) -> tuple[bytes, bytes]:
        """Mask `buf` byte-wise and split it: what can go now, and the shortest tail that could
        still be the start of a value whose end has not arrived (often nothing, so a prompt
        without a newline is shown at once)."""
        m = self._m
        assert m._bytes_re is not None
        # A match starting before `final` cannot grow into a longer form: that would fit in
        # `buf`, and the longest-first pattern would have found it.
        final = len(buf) - (m.max_form - 1)
        parts = []
        pos = 0
        hold = len(buf)
        for match in m._bytes_re.finditer(buf):
            if match.start() >= final:
                hold = match.start()
                break
            parts += [buf[pos:match.start()], m._marker_bytes]
            pos = match.end()
        hold = min(hold, m.partial_start(buf, max(pos, final)))
        parts.append(buf[pos:hold])
        return b"".join(parts), buf[hold:]
