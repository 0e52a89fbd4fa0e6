"""AWS Textract dialect against real servers (embedded and scale-out, real workers and Tesseract), called by
boto3 unchanged but for `endpoint_url`, signed with the AK/SK pair `ocrgw keys create --aksk` prints (the
pair Huawei's SDK signs with too); the asynchronous calls read their documents from a real S3-compatible
server on loopback (moto's, in a thread of the test process). Text equals the native API's for the same
document; AnalyzeDocument's tables are the layout work's cells; bad input gets Textract's own exceptions."""

from __future__ import annotations

import io
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import botocore
import botocore.auth
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from PIL import Image
from tests.conftest import Server, doc, native_result

PHOTOTEST = "page/tess_phototest.tif"
TABLE = "table/ruled.png"
FORM = "form/checkboxes.png"
BUCKET = "docs-in"
REGION = "eu-west-1"


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def bucket(s3_url: str) -> str:
    """moto's S3 (conftest's `s3_url`, the shared servers' OCRGW_S3_ENDPOINT_URL) with the tests' bucket."""
    s3(s3_url).create_bucket(Bucket=BUCKET)
    return s3_url


def s3(url: str):
    return boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture
def srv(server: Server) -> Server:
    """The shared server of each deployment, with an AK/SK pair of its own (made once per server)."""
    if not hasattr(server, "_textract_aksk"):
        _, ak, sk = server.cli("keys", "create", "--name", "textract", "--aksk", "-q").split()
        server._textract_aksk = (ak, sk)  # type: ignore[attr-defined]
    return server


def textract(srv: Server, sk: str | None = None, ak: str | None = None, **config):
    a, s = srv._textract_aksk  # type: ignore[attr-defined]
    return boto3.client(
        "textract",
        endpoint_url=srv.url,
        region_name=REGION,
        aws_access_key_id=ak or a,
        aws_secret_access_key=sk or s,
        config=Config(**config) if config else None,
    )


def put(s3_url: str, name: str, data: bytes) -> dict:
    s3(s3_url).put_object(Bucket=BUCKET, Key=name, Body=data)
    return {"S3Object": {"Bucket": BUCKET, "Name": name}}


def lines(blocks: list[dict]) -> list[str]:
    return [b["Text"] for b in blocks if b["BlockType"] == "LINE"]


def native_text(srv: Server, data: bytes, **fields: str) -> str:
    """The native API's lines in Textract's order: rows across the page (`basic`), as Textract's LINEs come
    (its columns are told apart by LAYOUT, not by the order of LINEs)."""
    return "\n".join(
        line["text"]
        for page in native_result(srv, data, reading_order="basic", **fields)["pages"]
        for line in page["lines"]
    )


def multipage(kind: str) -> bytes:
    """Two pages: the phototest scan, then the ruled table."""
    page = Image.open(doc(PHOTOTEST)).convert("RGB")
    second = Image.open(doc(TABLE)).convert("RGB")
    buf = io.BytesIO()
    if kind == "pdf":
        page.save(buf, format="PDF", save_all=True, append_images=[second], resolution=300)
    else:
        page.save(buf, format="TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    return buf.getvalue()


def wait_job(get, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = get(JobId=job_id)
        if r["JobStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return r
        assert "Blocks" not in r
        time.sleep(0.2)


def all_blocks(get, job_id: str, max_results: int) -> tuple[list[dict], int]:
    """Every result page joined through NextToken; and how many pages there were."""
    r, blocks, n = get(JobId=job_id, MaxResults=max_results), [], 1
    blocks += r["Blocks"]
    while "NextToken" in r:
        assert r["NextToken"] and len(r["Blocks"]) == max_results
        r = get(JobId=job_id, MaxResults=max_results, NextToken=r["NextToken"])
        assert r["JobStatus"] == "SUCCEEDED" and "DocumentMetadata" in r
        blocks += r["Blocks"]
        n += 1
    return blocks, n


def code_of(exc: pytest.ExceptionInfo) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# ------------------------------------------------------------------------------------------ sync calls
def test_detect_document_text_equals_native(srv: Server) -> None:
    data = doc(PHOTOTEST).read_bytes()
    r = textract(srv).detect_document_text(Document={"Bytes": data})
    assert r["DocumentMetadata"] == {"Pages": 1} and r["DetectDocumentTextModelVersion"] == "1.0"
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.1"
    assert r["ResponseMetadata"]["RequestId"]
    blocks = r["Blocks"]
    assert Counter(b["BlockType"] for b in blocks).keys() == {"PAGE", "LINE", "WORD"}
    assert "\n".join(lines(blocks)) == native_text(srv, data)
    by_id = {b["Id"]: b for b in blocks}
    page = blocks[0]
    assert page["BlockType"] == "PAGE" and page["Geometry"]["BoundingBox"] == {
        "Width": 1.0,
        "Height": 1.0,
        "Left": 0.0,
        "Top": 0.0,
    }
    assert [by_id[i]["BlockType"] for i in page["Relationships"][0]["Ids"]] == ["LINE"] * len(lines(blocks))
    for line in (b for b in blocks if b["BlockType"] == "LINE"):
        words = [by_id[i] for i in line["Relationships"][0]["Ids"]]
        assert " ".join(w["Text"] for w in words) == line["Text"]
        assert all(w["TextType"] in ("PRINTED", "HANDWRITING") for w in words)
        assert 0 <= line["Confidence"] <= 100 and line["Confidence"] > 1
        box = line["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] < box["Left"] + box["Width"] <= 1 and 0 <= box["Top"] <= 1
        assert len(line["Geometry"]["Polygon"]) == 4 and line["Page"] == 1


def test_analyze_document_tables_are_the_layout_cells(srv: Server) -> None:
    data = doc(TABLE).read_bytes()
    r = textract(srv).analyze_document(Document={"Bytes": data}, FeatureTypes=["TABLES"])
    assert r["AnalyzeDocumentModelVersion"] == "1.0"
    blocks, by_id = r["Blocks"], {b["Id"]: b for b in r["Blocks"]}
    native = native_result(srv, data, layout="true", reading_order="basic")["pages"][0]
    assert "\n".join(lines(blocks)) == "\n".join(line["text"] for line in native["lines"])
    tables = [b for b in blocks if b["BlockType"] == "TABLE"]
    assert len(tables) == len(native["layout"]["tables"]) >= 1
    for table, theirs in zip(tables, native["layout"]["tables"], strict=True):
        kids = {i for rel in table["Relationships"] for i in rel["Ids"]}
        cells = [by_id[i] for i in kids if by_id[i]["BlockType"] == "CELL"]
        merged = [by_id[i] for i in kids if by_id[i]["BlockType"] == "MERGED_CELL"]
        assert len(cells) == theirs["rows"] * theirs["cols"]  # every grid position, 1-based
        assert {(c["RowIndex"], c["ColumnIndex"]) for c in cells} == {
            (r + 1, c + 1) for r in range(theirs["rows"]) for c in range(theirs["cols"])
        }
        assert all(c["RowSpan"] == c["ColumnSpan"] == 1 for c in cells)
        spanning = [c for c in theirs["cells"] if c["row_span"] > 1 or c["col_span"] > 1]
        assert sorted((m["RowIndex"], m["ColumnIndex"], m["RowSpan"], m["ColumnSpan"]) for m in merged) == sorted(
            (c["row"] + 1, c["col"] + 1, c["row_span"], c["col_span"]) for c in spanning
        )

        def words(block: dict) -> list[str]:
            ids = [i for rel in block.get("Relationships", []) for i in rel["Ids"]]
            out = []
            for i in ids:
                b = by_id[i]
                out += [b["Text"]] if b["BlockType"] == "WORD" else words(b) if b["BlockType"] == "CELL" else []
            return out

        at = {(c["RowIndex"], c["ColumnIndex"]): c for c in cells}
        at.update({(m["RowIndex"], m["ColumnIndex"]): m for m in merged})
        for cell in theirs["cells"]:
            text = " ".join(native["lines"][i]["text"] for i in cell["lines"])
            assert sorted(words(at[cell["row"] + 1, cell["col"] + 1])) == sorted(text.split()), cell


def test_analyze_document_forms_and_layout(srv: Server) -> None:
    data = doc(FORM).read_bytes()
    r = textract(srv).analyze_document(Document={"Bytes": data}, FeatureTypes=["FORMS", "LAYOUT"])
    blocks, by_id = r["Blocks"], {b["Id"]: b for b in r["Blocks"]}
    native = native_result(srv, data, layout="true", reading_order="basic")["pages"][0]
    marks = [b for b in blocks if b["BlockType"] == "SELECTION_ELEMENT"]
    assert [m["SelectionStatus"] == "SELECTED" for m in marks] == [m["selected"] for m in native["layout"]["marks"]]
    keys = [b for b in blocks if b["BlockType"] == "KEY_VALUE_SET" and b["EntityTypes"] == ["KEY"]]
    assert keys, "a checkbox with its label is a key-value set"
    for key in keys:
        rel = {x["Type"]: x["Ids"] for x in key["Relationships"]}
        value = by_id[rel["VALUE"][0]]
        assert value["EntityTypes"] == ["VALUE"] and all(by_id[i]["BlockType"] == "WORD" for i in rel["CHILD"])
    checked = [
        k
        for k in keys
        if any(
            by_id[i]["BlockType"] == "SELECTION_ELEMENT"
            for x in [by_id[{x["Type"]: x["Ids"] for x in k["Relationships"]}["VALUE"][0]]]
            for i in x["Relationships"][0]["Ids"]
        )
    ]
    assert checked
    layout = [b for b in blocks if b["BlockType"].startswith("LAYOUT_")]
    covered = [i for b in layout for i in b["Relationships"][0]["Ids"]]
    assert all(by_id[i]["BlockType"] == "LINE" for i in covered)
    assert len(covered) == len(set(covered)) == len(lines(blocks))  # every line in exactly one layout block
    assert "TABLE" not in {b["BlockType"] for b in blocks}  # not asked for


def test_a_retried_call_reads_the_page_once(srv: Server) -> None:
    """botocore retries a timed-out call with the same amz-sdk-invocation-id: the retry answers from the
    job the first attempt made (block ids are the job's), a new call makes a new job."""
    client = textract(srv)
    pinned = {"id": "0b4bfc4e-9d1c-4c3e-8d55-6f2f0a1e9c01"}

    def pin(request, **_: object) -> None:
        request.headers["amz-sdk-invocation-id"] = pinned["id"]

    client.meta.events.register("before-send.textract.*", pin)
    data = {"Bytes": doc(TABLE).read_bytes()}
    first = client.detect_document_text(Document=data)["Blocks"]
    again = client.detect_document_text(Document=data)["Blocks"]
    assert [b["Id"] for b in again] == [b["Id"] for b in first]
    pinned["id"] = "0b4bfc4e-9d1c-4c3e-8d55-6f2f0a1e9c02"
    other = client.detect_document_text(Document=data)["Blocks"]
    assert [b["Text"] for b in other if "Text" in b] == [b["Text"] for b in first if "Text" in b]
    assert {b["Id"] for b in other}.isdisjoint(b["Id"] for b in first)


def test_sync_call_with_an_s3_object(srv: Server, bucket: str) -> None:
    data = doc(TABLE).read_bytes()
    r = textract(srv).detect_document_text(Document=put(bucket, "sync/ruled.png", data))
    assert lines(r["Blocks"]) == lines(textract(srv).detect_document_text(Document={"Bytes": data})["Blocks"])


def test_sync_refusals(srv: Server) -> None:
    client = textract(srv)
    png = doc(TABLE).read_bytes()
    cases = [
        (lambda: client.analyze_document(Document={"Bytes": png}, FeatureTypes=["QUERIES"]), "InvalidParameter"),
        (lambda: client.analyze_document(Document={"Bytes": png}, FeatureTypes=["SIGNATURES"]), "InvalidParameter"),
        (lambda: client.analyze_document(Document={"Bytes": png}, FeatureTypes=["NOPE"]), "InvalidParameter"),
        (lambda: client.analyze_document(Document={"Bytes": png}, FeatureTypes=[]), "InvalidParameter"),
        (lambda: client.detect_document_text(Document={}), "InvalidParameter"),
        (
            lambda: client.detect_document_text(Document={"Bytes": png, "S3Object": {"Bucket": BUCKET, "Name": "x"}}),
            "InvalidParameter",
        ),
        (lambda: client.detect_document_text(Document={"Bytes": b"not a document at all"}), "UnsupportedDocument"),
        (lambda: client.detect_document_text(Document={"Bytes": png[:300]}), "BadDocument"),
        (lambda: client.detect_document_text(Document={"Bytes": multipage("pdf")}), "UnsupportedDocument"),
        (lambda: client.detect_document_text(Document={"Bytes": multipage("tiff")}), "UnsupportedDocument"),
        (lambda: client.detect_document_text(Document={"Bytes": b"\0" * (12 * 1024 * 1024)}), "DocumentTooLarge"),
        (lambda: client.get_document_text_detection(JobId="dummy"), "InvalidJobId"),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == (expected + "Exception", 400), exc.value
        assert exc.value.response["Error"]["Message"]
    # modeled exceptions are the SDK's own classes
    with pytest.raises(client.exceptions.UnsupportedDocumentException):
        client.detect_document_text(Document={"Bytes": multipage("pdf")})


def test_signatures(srv: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    png = {"Bytes": doc(TABLE).read_bytes()}
    ak, sk = srv._textract_aksk  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as exc:
        textract(srv, sk=sk[:-1] + ("0" if sk[-1] != "0" else "1")).detect_document_text(Document=png)
    assert code_of(exc) == ("InvalidSignatureException", 400)
    with pytest.raises(ClientError) as exc:
        textract(srv, ak="AKIAUNKNOWN000000000").detect_document_text(Document=png)
    assert code_of(exc) == ("UnrecognizedClientException", 400)
    with pytest.raises(ClientError) as exc:
        textract(srv, signature_version=botocore.UNSIGNED).detect_document_text(Document=png)
    assert code_of(exc) == ("MissingAuthenticationTokenException", 400)
    # any region signs; the clock may be off by up to 15 minutes either way, not more
    other = boto3.client(
        "textract", endpoint_url=srv.url, region_name="ap-south-2", aws_access_key_id=ak, aws_secret_access_key=sk
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now - timedelta(minutes=14))
    assert other.get_document_analysis  # built before the clock moved; signs at call time
    with pytest.raises(ClientError) as exc:
        other.get_document_text_detection(JobId="dummy")
    assert code_of(exc) == ("InvalidJobIdException", 400)  # signed 14 minutes ago: accepted
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now - timedelta(minutes=16))
    with pytest.raises(ClientError) as exc:
        other.get_document_text_detection(JobId="dummy")
    assert code_of(exc) == ("InvalidSignatureException", 400)
    assert "Signature expired" in exc.value.response["Error"]["Message"]


def test_a_key_over_its_rate_gets_a_throttle(srv: Server) -> None:
    """A key's own request rate (tenancy) answers ProvisionedThroughputExceededException, which botocore
    retries, with the wait in x-amz-retry-after (milliseconds: what its standard retry mode reads)."""
    import sqlalchemy as sa

    _, ak, sk = srv.cli("keys", "create", "--name", "textract-limited", "--aksk", "-q").split()
    engine = sa.create_engine(srv.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        key_id = conn.execute(sa.text("select id from api_keys where access_key = :ak"), {"ak": ak}).scalar_one()
        conn.execute(
            sa.text("insert into key_limits (key_id, service, rate, rate_seconds, burst) values (:k, :s, 1, 60, 1)"),
            {"k": key_id, "s": "aws-textract"},
        )
    engine.dispose()
    client = textract(srv, ak=ak, sk=sk, retries={"max_attempts": 1})
    data = {"Bytes": doc(TABLE).read_bytes()}
    client.detect_document_text(Document=data)
    with pytest.raises(client.exceptions.ProvisionedThroughputExceededException) as exc:
        client.detect_document_text(Document=data)
    assert int(exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-retry-after"]) > 0


def test_raw_requests(srv: Server) -> None:
    """Without an SDK: an unknown X-Amz-Target, a body that is not JSON, a GET of / (the playground)."""
    r = httpx.post(srv.url + "/", content=b"{}", headers={"X-Amz-Target": "Textract.DetectDocumentText"})
    assert r.status_code == 400 and r.json()["__type"] == "MissingAuthenticationTokenException"
    assert r.headers["content-type"] == "application/x-amz-json-1.1" and r.headers["x-amzn-requestid"]
    assert httpx.get(srv.url + "/").status_code == 200
    r = httpx.post(srv.url + "/", content=b"{}", headers={"X-Amz-Target": "Textract.Nope", "Authorization": "AWS4"})
    assert r.status_code == 400 and r.json()["__type"] == "IncompleteSignatureException"
    r = httpx.post(srv.url + "/service/Textract/operation/DetectDocumentText", content=b"\xa0")
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"  # CBOR: refused


def test_handwriting_is_the_words_text_type(srv: Server) -> None:
    data = doc("note/memo_handwritten.jpg").read_bytes()
    blocks = textract(srv).detect_document_text(Document={"Bytes": data})["Blocks"]
    by_id = {b["Id"]: b for b in blocks}
    native = [
        (line["text"], line["style"])
        for page in native_result(srv, data, reading_order="basic")["pages"]
        for line in page["lines"]
    ]
    kinds = [
        (b["Text"], {by_id[i]["TextType"] for i in b.get("Relationships", [{"Ids": []}])[0]["Ids"]})
        for b in blocks
        if b["BlockType"] == "LINE"
    ]
    assert kinds == [(text, {"HANDWRITING" if style == "handwriting" else "PRINTED"}) for text, style in native]
    assert any(kind == {"HANDWRITING"} for _, kind in kinds)


def test_one_aksk_pair_for_huawei_and_textract(srv: Server) -> None:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkocr.v1 import GeneralTextRequestBody, OcrClient, RecognizeGeneralTextRequest

    ak, sk = srv._textract_aksk  # type: ignore[attr-defined]
    import base64

    data = doc(PHOTOTEST).read_bytes()
    hw = OcrClient.new_builder().with_credentials(BasicCredentials(ak, sk, "p1")).with_endpoint(srv.url).build()
    body = GeneralTextRequestBody(image=base64.b64encode(data).decode(), language="en")
    got = hw.recognize_general_text(RecognizeGeneralTextRequest(body=body)).result.words_block_list
    tx = lines(textract(srv).detect_document_text(Document={"Bytes": data})["Blocks"])
    assert [b.words for b in got] == tx


# ----------------------------------------------------------------------------------------- async calls
def test_async_text_detection_over_s3_with_paging(srv: Server, bucket: str) -> None:
    client = textract(srv)
    data = multipage("pdf")
    location = put(bucket, "scans/two pages.pdf", data)
    job = client.start_document_text_detection(DocumentLocation=location, ClientRequestToken="tok-1")
    assert job["JobId"]
    again = client.start_document_text_detection(DocumentLocation=location, ClientRequestToken="tok-1")
    assert again["JobId"] == job["JobId"]  # the idempotency key
    with pytest.raises(client.exceptions.IdempotentParameterMismatchException):
        client.start_document_text_detection(
            DocumentLocation=put(bucket, "other.png", b"x"), ClientRequestToken="tok-1"
        )
    done = wait_job(client.get_document_text_detection, job["JobId"])
    assert done["JobStatus"] == "SUCCEEDED" and done["DocumentMetadata"] == {"Pages": 2}, done
    whole = done["Blocks"]
    paged, pages = all_blocks(client.get_document_text_detection, job["JobId"], max_results=25)
    assert pages == -(-len(whole) // 25) >= 2
    assert paged == whole  # same ids on every call: pages join
    assert {b["Page"] for b in whole} == {1, 2}
    assert "\n".join(lines(whole)) == native_text(srv, data)
    with pytest.raises(ClientError) as exc:  # a text-detection job is no analysis job
        client.get_document_analysis(JobId=job["JobId"])
    assert code_of(exc) == ("InvalidJobIdException", 400)
    with pytest.raises(ClientError) as exc:
        client.get_document_text_detection(JobId=job["JobId"], NextToken="forged")
    assert code_of(exc) == ("InvalidParameterException", 400)


def test_async_analysis_of_a_tiff(srv: Server, bucket: str) -> None:
    client = textract(srv)
    location = put(bucket, "scans/two.tiff", multipage("tiff"))
    job = client.start_document_analysis(DocumentLocation=location, FeatureTypes=["TABLES", "LAYOUT"], JobTag="batch:7")
    done = wait_job(client.get_document_analysis, job["JobId"])
    assert done["JobStatus"] == "SUCCEEDED" and done["DocumentMetadata"] == {"Pages": 2}
    assert done["AnalyzeDocumentModelVersion"] == "1.0"
    kinds = Counter(b["BlockType"] for b in done["Blocks"])
    assert kinds["PAGE"] == 2 and any(k.startswith("LAYOUT_") for k in kinds)


def test_async_refusals(srv: Server, bucket: str) -> None:
    client = textract(srv)
    cases = [
        (
            lambda: client.start_document_text_detection(
                DocumentLocation={"S3Object": {"Bucket": BUCKET, "Name": "missing.pdf"}}
            ),
            "InvalidS3ObjectException",
        ),
        (
            lambda: client.start_document_text_detection(
                DocumentLocation={"S3Object": {"Bucket": "no-such-bucket", "Name": "a.pdf"}}
            ),
            "InvalidS3ObjectException",
        ),
        (
            lambda: client.start_document_analysis(
                DocumentLocation=put(bucket, "a.png", b"x"), FeatureTypes=["QUERIES"]
            ),
            "InvalidParameterException",
        ),
        (
            lambda: client.start_document_text_detection(
                DocumentLocation=put(bucket, "b.png", doc(TABLE).read_bytes()), ClientRequestToken="bad token!"
            ),
            "InvalidParameterException",
        ),
        (
            lambda: client.start_document_analysis(DocumentLocation=put(bucket, "c.png", b"x"), FeatureTypes=[]),
            "InvalidParameterException",
        ),
    ]
    for call, expected in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert code_of(exc) == (expected, 400), exc.value
    # a document that cannot be read fails the job, reported as FAILED with a StatusMessage
    job = client.start_document_text_detection(DocumentLocation=put(bucket, "cut.png", doc(TABLE).read_bytes()[:300]))
    done = wait_job(client.get_document_text_detection, job["JobId"])
    assert done["JobStatus"] == "FAILED" and done["StatusMessage"] and "Blocks" not in done
