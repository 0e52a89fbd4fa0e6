"""intake.jsonbody on its own: the streamed scan gives what json.loads gives, however the body is cut into
chunks (escapes split across them included), long strings land in files, the rest is capped, and the
block-wise base64 decoder agrees with base64.b64decode(validate=True) on good and bad input."""

from __future__ import annotations

import base64
import binascii
import json
import random
from pathlib import Path

import pytest

from ocrgw.errors import OcrgwError
from ocrgw.intake import jsonbody as jb


def _resolved(body: jb.JsonBody, value: object) -> object:
    """``value`` with each placeholder replaced by its spooled text (as the dialects' ``text`` sees it)."""
    if isinstance(value, dict):
        return {k: _resolved(body, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolved(body, v) for v in value]
    text = body.text(value)
    if isinstance(text, jb.Spooled):
        return b"".join(text.blocks()).decode("utf-8", "surrogatepass")
    return value


def _scan(text: bytes, tmp_path: Path, rng: random.Random) -> jb.JsonBody:
    scanner, pos = jb.Scanner(tmp_path), 0
    while pos < len(text):
        step = rng.choice([1, 2, 3, 5, 6, 7, 4096, 70_000])
        scanner.feed(text[pos : pos + step])
        pos += step
    return scanner.finish()


@pytest.mark.parametrize("seed", range(40))
def test_scan_equals_json_loads_however_the_body_is_cut(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    alphabet = 'ab/+=\\"\n\t\u00e9\u4e2d\U0001f600'
    long = "".join(rng.choice(alphabet) for _ in range(rng.choice([10, jb.SPOOL_AT - 1, jb.SPOOL_AT + 1, 150_000])))
    obj = {"n": [1, 2.5, None, True, {"z": "w\\"}], 'q"k': 'x\\"y', "long": long, "after": "v", "num": -12e3}
    text = json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode()
    if rng.random() < 0.5:
        text = text.replace(b"/", b"\\/")  # PHP's json_encode escapes every slash
    body = _scan(text, tmp_path, rng)
    assert _resolved(body, body.value) == obj
    spooled = isinstance(body.text(body.members()["long"]), jb.Spooled)  # type: ignore[index]
    assert spooled == (len(json.dumps(long, ensure_ascii=False)) > jb.SPOOL_AT + 2 or len(long) > jb.SPOOL_AT)
    body.close()


def test_bad_json_is_told(tmp_path: Path) -> None:
    for text in (b'{"a": "unterminated', b'{"a": 1,}', b'{"a": "' + b"x" * 100_000 + b'\\q"}', b"[1, 2"):
        scanner = jb.Scanner(tmp_path)
        scanner.feed(text)
        with pytest.raises(jb.JsonSyntaxError):
            scanner.finish()
    scanner = jb.Scanner(tmp_path)
    with pytest.raises(OcrgwError, match="other than the document"):
        scanner.feed(b"[" + b"1," * jb.SKELETON_CAP)


def test_complete_members_of_a_body_cut_anywhere() -> None:
    text = '{"api_key": "k1", "lang": "eng", "n": [1, {"a": "}"}], "num": 12, "image": "AAAA'
    assert jb.complete_members(text) == {"api_key": "k1", "lang": "eng", "n": [1, {"a": "}"}], "num": 12}
    assert jb.complete_members('{"api_key": "k1", "n": 12') == {"api_key": "k1"}  # 12 may go on
    assert jb.complete_members('{"api_key": "k') == {}
    assert jb.complete_members("[1, 2]") == {}


B64_CASES = [
    b"",
    b"YQ==",
    b"YWI=",
    b"YWJj",
    b"YW\nJj",
    b"  YWJj  \r\n",
    b"YQ",  # unpadded
    b"YQ=",
    b"YQ==YQ==",  # padding in the middle
    b"YW*j",
    b"YWJjZA==extra",
    b"=",
]


@pytest.mark.parametrize("text", B64_CASES)
def test_decoder_agrees_with_b64decode_validate(text: bytes) -> None:
    try:
        want: bytes | None = base64.b64decode(b"".join(text.split()), validate=True)
    except binascii.Error:
        want = None
    for step in (1, 2, 3, 5, 1000):
        decoder = jb.Base64Decoder(data_uri=False)
        try:
            got: bytes | None = b"".join(decoder.feed(text[i : i + step]) for i in range(0, len(text), step))
            got += decoder.end()
        except ValueError:
            got = None
        assert got == want, (text, step)


def test_decoder_takes_a_data_uri_prefix_only_when_allowed() -> None:
    data = random.Random(1).randbytes(300_001)
    text = b"data:image/png;base64," + base64.encodebytes(data)  # MIME line breaks too
    for step in (7, 100, 65_536):
        decoder = jb.Base64Decoder()
        out = b"".join(decoder.feed(text[i : i + step]) for i in range(0, len(text), step)) + decoder.end()
        assert out == data
    with pytest.raises(ValueError):
        jb.decode_all(text, data_uri=False)
    assert jb.decode_all("data:,YQ==") == b"a"


@pytest.mark.parametrize("step", [1, 2, 3, 1000, 2 * 1024 * 1024])
def test_urlencoded_fields_stream_a_long_value_percent_decoded(step: int, tmp_path: Path) -> None:
    """A form-encoded body (the OCR.space PyPI client's base64Image): a long value percent-decoded into a
    file however the body is cut (a `%2B` split across chunks included), the others as parse_qsl gives."""
    from urllib.parse import parse_qsl, urlencode

    import anyio

    from ocrgw.intake import urlencoded
    from ocrgw.settings import Settings

    data = "data:image/png;base64," + base64.b64encode(random.Random(2).randbytes(200_000)).decode()
    body = urlencode({"apikey": "k&=1", "language": "eng", "base64Image": data, "Empty": ""}).encode()
    if step == 1:
        body = body[:5000] + b"&" + body[-3000:].split(b"&", 1)[1]  # a short body, cut byte by byte

    async def chunks():  # type: ignore[no-untyped-def]
        for i in range(0, len(body), step):
            yield body[i : i + step]

    fields = anyio.run(lambda: urlencoded.read(chunks(), cap=10**8, settings=Settings(data_dir=tmp_path)))
    want = {k.lower(): v for k, v in parse_qsl(body.decode(), keep_blank_values=True)}
    got = {k: b"".join(v.blocks()).decode() if isinstance(v, jb.Spooled) else v for k, v in fields.items()}
    assert got == want
    assert isinstance(fields.get("base64image"), jb.Spooled) == (step != 1)
