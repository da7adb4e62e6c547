"""The streaming masker on its own: values with quotes, backslashes and non-ASCII, every JSON
escaping of them, values split across reads, JSON-RPC lines that stay valid JSON."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from mcp_secrets.masking import MARKER, Masker, StreamMasker

M = MARKER.encode()


def nasty() -> str:
    """A canary with everything that changes under JSON escaping."""
    return f'CANARY-"q\\b/é☃😀-{uuid.uuid4().hex[:12]}'


def forms(value: str) -> list[bytes]:
    """Every way a value can appear in JSON output from common encoders."""
    ascii_ = json.dumps(value)[1:-1]
    return [
        value.encode(),
        json.dumps(value, ensure_ascii=False)[1:-1].encode(),
        ascii_.encode(),
        ascii_.replace("/", "\\/").encode(),
        re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), ascii_).encode(),
    ]


def leaked(value: str, data: bytes) -> bool:
    return any(f in data for f in forms(value)) or any(
        part.encode() in data for part in (value[:12], value[-12:])
    )


def feed_in_pieces(stream: StreamMasker, data: bytes, size: int) -> bytes:
    out = [stream.feed(data[i:i + size]) for i in range(0, len(data), size)]
    return b"".join(out) + stream.close()


@pytest.mark.parametrize("make", [
    lambda v: json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": v}}),
    lambda v: json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": v}}, ensure_ascii=False),
    lambda v: json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"text": f"key={v}!"}}
                         ).replace("/", "\\/"),
    lambda v: json.dumps({"jsonrpc": "2.0", "id": 1, "result": {v: "as a key"}}),
])
@pytest.mark.parametrize("size", [1, 3, 7, 4096])
def test_json_rpc_lines_masked_and_still_valid(make, size: int) -> None:
    value = nasty()
    line = (make(value) + "\n").encode()
    out = feed_in_pieces(Masker([value]).stream(), line * 2, size)
    assert not leaked(value, out)
    lines = out.splitlines()
    assert len(lines) == 2
    for raw in lines:
        message = json.loads(raw)  # still valid JSON
        assert message["jsonrpc"] == "2.0" and message["id"] == 1
        assert MARKER in json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("size", [1, 2, 5, 64])
def test_plain_text_split_anywhere(size: int) -> None:
    value = nasty()
    for form in forms(value):
        data = b"before " + form + b" after\nsecond line " + form + b"\n"
        out = feed_in_pieces(Masker([value]).stream(), data, size)
        assert not leaked(value, out), form
        assert out == b"before " + M + b" after\nsecond line " + M + b"\n"


def test_partial_line_is_passed_on_except_a_possible_value_start() -> None:
    """A prompt with no newline shows up at once; only bytes that may begin a value wait."""
    value = "s3cret-value-123"
    stream = Masker([value]).stream()
    assert stream.feed(b"Enter the code please: ") == b"Enter the code please: "
    assert stream.feed(b"s3cret-val") == b""  # could be the value: held
    assert stream.feed(b"ue-123 done") == M + b" done"
    assert stream.feed(b" s3cX") == b" s3cX"  # was not the value after all
    assert stream.feed(b"\n") == b"\n"


def test_json_message_held_until_its_newline() -> None:
    value = "s3cret-value-123"
    stream = Masker([value]).stream()
    assert stream.feed(b'{"jsonrpc":"2.0","result":"s3cret-va') == b""
    out = stream.feed(b'lue-123"}\n')
    assert json.loads(out) == {"jsonrpc": "2.0", "result": MARKER}


def test_untouched_lines_are_byte_identical() -> None:
    """Lines without a value pass through unchanged, even JSON with other escapes."""
    masker = Masker(["s3cret-value-123"])
    for line in (b'{"a": "caf\\u00e9",  "b": [1, 2.50, 1e3]}\n', b"plain text\n",
                 b'{"broken json\n'):
        assert masker.stream().feed(line) == line


def test_several_values_longest_first() -> None:
    masker = Masker(["abcd-1234", "abcd-1234-5678"])
    assert masker.mask_bytes(b"x abcd-1234-5678 y abcd-1234 z") == b"x " + M + b" y " + M + b" z"


def test_short_values_are_reported_not_masked() -> None:
    masker = Masker(["ab", "long-enough-value"])
    assert masker.unmaskable == ["ab"]
    line = b'{"jsonrpc":"2.0","id":1,"result":"ab"}\n'
    assert masker.stream().feed(line) == line


def test_value_spanning_json_structure_is_still_hidden() -> None:
    """If a value shows up outside a string (a number here), hiding it beats valid JSON."""
    masker = Masker(["31415926"])
    out = masker.stream().feed(b'{"id":31415926}\n')
    assert b"31415926" not in out


def test_no_values_is_a_passthrough() -> None:
    stream = Masker([]).stream()
    assert stream.feed(b"anything") == b"anything"
    assert stream.close() == b""


def test_mask_json_helper_for_other_callers() -> None:
    value = nasty()
    masked = Masker([value]).mask_json({"content": [{"type": "text", "text": f"k={value}"}]})
    assert masked == {"content": [{"type": "text", "text": f"k={MARKER}"}]}
    assert value not in repr(Masker([value]))


def test_multi_line_value_printed_raw_is_masked_line_by_line() -> None:
    pem = ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC" + uuid.uuid4().hex
           + "\nAbCdEfGh" + uuid.uuid4().hex + "\n-----END PRIVATE KEY-----")
    stream = Masker([pem]).stream()
    out = feed_in_pieces(stream, f"key:\n{pem}\ndone\n".encode(), 5)
    for line in pem.splitlines():
        assert line.encode() not in out
    assert out.startswith(b"key:\n") and out.endswith(b"done\n")
    as_json = json.dumps({"k": pem}) + "\n"
    assert json.loads(Masker([pem]).stream().feed(as_json.encode())) == {"k": MARKER}


def test_carriage_returns_do_not_split_a_line() -> None:
    value = "s3cret\rvalue-1234"
    out = feed_in_pieces(Masker([value]).stream(), f"x {value} y\n".encode(), 3)
    assert out == b"x " + M + b" y\n"


def test_a_long_json_line_in_many_reads() -> None:
    value = nasty()
    line = json.dumps({"jsonrpc": "2.0", "id": 7, "result": {"text": "x" * 300_000 + value}})
    out = feed_in_pieces(Masker([value]).stream(), (line + "\n").encode(), 65536)
    assert json.loads(out)["result"]["text"] == "x" * 300_000 + MARKER


def test_value_with_bytes_that_are_not_utf8() -> None:
    """An environment value Python decoded with surrogateescape is masked as its real bytes."""
    value = b"key-\xff\xfe-1234".decode("utf-8", "surrogateescape")
    out = Masker([value]).stream().feed(b"got key-\xff\xfe-1234 here\n")
    assert out == b"got " + M + b" here\n"


@pytest.mark.parametrize("value", ['pa"ss\\word-1234', "it's \"both\" quoted", "esc\x1bape-1234"])
def test_python_repr_of_a_value_is_masked(value: str) -> None:
    """`raise ValueError(f"bad key {key!r}")` and `log.info("%r", key)` print Python's repr,
    which for a value with a backslash and a quote, both quotes, or a control character is
    neither the raw nor a JSON form."""
    m = Masker([value])
    for shown in (repr(value), ascii(value)):
        text = f"bad key {shown}!"
        assert m.mask_string(text) == f"bad key {shown[0]}{MARKER}{shown[-1]}!"
        assert m.finds(text)
        assert M in m.mask_line(text.encode() + b"\n")
        assert M in feed_in_pieces(StreamMasker(m), text.encode() + b"\n", 3)
