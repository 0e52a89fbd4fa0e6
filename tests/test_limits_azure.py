"""A key's limits as Azure refuses them, with Microsoft's official SDKs unchanged (shared/contracts/azure.md
§0.3/§0.4), on both deployments: azure-core's retry policy waits out a 429's Retry-After and the call then
succeeds, or raises HttpResponseError 429 with Azure's message once its retries are spent; the Document
Intelligence free tier reads a PDF's first two pages and its spent quota is a 403 without Retry-After (which
azure-core would otherwise retry for days); a key not subscribed to a service is Azure's 401; the raw
shapes of Read v3.2 and v2.1 too."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.vision.imageanalysis import ImageAnalysisClient
from azure.ai.vision.imageanalysis.models import VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse

from ocrgw.tenancy.tiers import TIERS
from tests.bodies import assert_azure_error
from tests.conftest import Server
from tests.limits import (
    apply_tier,
    new_key,
    refusals,
    require_subscriptions,
    retry_after,
    set_limits,
    slow_tiff,
    small_page,
)
from tests.test_documents import pdf_bytes, text_page

RATE_MESSAGE = "Rate limit is exceeded. Try again in {} seconds."
READ = "/vision/v3.2/read/analyze"


class Attempts:
    """Every POST attempt an SDK call made (azure-core's raw_response_hook runs after the retry policy, so
    once per attempt; an LRO poller's GETs run it too and are left out): status, Retry-After, body and when
    it came back."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None, str, float]] = []

    def __call__(self, response: PipelineResponse) -> None:
        http = response.http_response
        if response.http_request.method != "POST":
            return  # the poller's GETs
        if hasattr(http, "read"):  # azure.core.rest's response: read it (kept, the SDK reads it again)
            http.read()
        body = http.text()  # the legacy transport response (FR 3.3) has its body already
        self.seen.append((http.status_code, http.headers.get("Retry-After"), body, time.monotonic()))

    def statuses(self) -> list[int]:
        return [s for s, *_ in self.seen]


def docintel(srv: Server, key: str) -> DocumentIntelligenceClient:
    return DocumentIntelligenceClient(endpoint=srv.url, credential=AzureKeyCredential(key))


def analyze(client: DocumentIntelligenceClient, data: bytes, hook: Callable) -> object:
    return client.begin_analyze_document("prebuilt-read", body=data, raw_response_hook=hook)


def test_docintel_sdk_waits_out_the_rate_limit(server: Server) -> None:
    """1 call per 2 s, burst 1: two back-to-back SDK calls both succeed, the second after the Retry-After
    of the 429 azure-core got and waited out."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-docintel", rate=1, rate_seconds=2, burst=1)
    client, first, second = docintel(server, key), Attempts(), Attempts()
    started = time.monotonic()
    poller1 = analyze(client, small_page("First call"), first)
    poller2 = analyze(client, small_page("Second call"), second)
    assert first.statuses() == [202]
    assert second.statuses()[0] == 429 and second.statuses()[-1] == 202, second.seen
    _, header, body, _ = second.seen[0]
    assert header is not None and header.isdigit() and 1 <= int(header) <= 2
    assert json.loads(body) == {"error": {"code": "429", "message": RATE_MESSAGE.format(header)}}
    assert second.seen[-1][3] - started >= int(header) - 0.05  # the accepted attempt came after the wait
    assert "first call" in poller1.result().content.lower()
    assert "second call" in poller2.result().content.lower()
    assert refusals(server, key_id)[("azure-docintel", "RateLimited")] == len(second.seen) - 1


def test_docintel_sdk_raises_429_once_its_retries_are_spent(server: Server) -> None:
    """One job at a time, and a job that runs for seconds: the second call's 429s (Retry-After: 1) outlast
    azure-core's three retries, so the SDK raises HttpResponseError 429 with Azure's code and message
    after 4 attempts; the running job is not disturbed."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-docintel", concurrent_jobs=1)
    client, first, second = docintel(server, key), Attempts(), Attempts()
    poller = analyze(client, slow_tiff(6), first)
    with pytest.raises(HttpResponseError) as raised:
        analyze(client, small_page(), second)
    err = raised.value
    assert err.status_code == 429 and err.error is not None and err.error.code == "429"
    assert err.error.message == RATE_MESSAGE.format(1)
    assert err.response is not None and err.response.headers["Retry-After"] == "1"
    assert second.statuses() == [429] * 4
    assert refusals(server, key_id)[("azure-docintel", "ConcurrencyLimited")] == 4
    assert len(poller.result(timeout=180).pages) == 6


def three_page_pdf() -> bytes:
    return pdf_bytes([text_page([f"Page number {word}"]) for word in ("one", "two", "three")])


def test_docintel_free_tier_reads_two_pages_and_its_quota_is_a_403(server: Server) -> None:
    """The azure-docintel-free tier's limits (a document's first two pages), its quota lowered to 3 pages:
    a 3-page PDF gives two pages; the next PDF (2 more pages) is over the quota, a 403 "Out of call volume
    quota for FormRecognizer F0 pricing tier" without Retry-After, so the SDK raises it after one attempt."""
    key, key_id, _ = new_key(server)
    apply_tier(server, key_id, "azure-docintel-free")  # then its 500 pages a month lowered to 3
    free = TIERS["azure-docintel-free"]
    set_limits(server, key_id, "azure-docintel", tier=free.name, **{**free.limits, "pages_quota": 3})
    client, hook = docintel(server, key), Attempts()
    result = analyze(client, three_page_pdf(), hook).result(timeout=120)
    assert [p.page_number for p in result.pages] == [1, 2]
    text = result.content.lower()
    assert "one" in text and "two" in text and "three" not in text
    refused = Attempts()
    with pytest.raises(HttpResponseError) as raised:
        analyze(client, three_page_pdf(), refused)
    err = raised.value
    assert err.status_code == 403 and err.error is not None and err.error.code == "403"
    assert err.error.message.startswith("Out of call volume quota for FormRecognizer F0 pricing tier. Please retry ")
    assert err.error.message.endswith(" days. To increase your rate limit switch to a paid tier.")
    days = int(err.error.message.split("retry after ")[1].split()[0])
    assert 1 <= days <= 31
    assert refused.statuses() == [403] and refused.seen[0][1] is None
    assert refusals(server, key_id)[("azure-docintel", "QuotaExceeded")] == 1


def test_form_recognizer_sdk_waits_out_the_rate_limit(server: Server) -> None:
    """Form Recognizer 3.3 (azure-core too) under /formrecognizer: the same 429 and wait."""
    from azure.ai.formrecognizer import DocumentAnalysisClient

    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-docintel", rate=1, rate_seconds=2, burst=1)
    client, hook = DocumentAnalysisClient(server.url, AzureKeyCredential(key)), Attempts()
    pollers = [
        client.begin_analyze_document("prebuilt-read", document=small_page(words), raw_response_hook=hook)
        for words in ("Recognizer one", "Recognizer two")
    ]
    assert hook.statuses()[:2] == [202, 429] and hook.statuses()[-1] == 202, hook.seen
    body = json.loads(hook.seen[1][2])
    assert body == {"error": {"code": "429", "message": RATE_MESSAGE.format(hook.seen[1][1])}}
    assert ["one" in p.result().content.lower() for p in pollers] == [True, False]


def test_image_analysis_sdk_waits_out_the_rate_limit(server: Server) -> None:
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-imageanalysis", rate=1, rate_seconds=2, burst=1)
    client = ImageAnalysisClient(endpoint=server.url, credential=AzureKeyCredential(key))
    hook = Attempts()
    texts = []
    for words in ("Analysis one", "Analysis two"):
        result = client.analyze(
            image_data=small_page(words), visual_features=[VisualFeatures.READ], raw_response_hook=hook
        )
        texts.append(" ".join(line.text for block in result.read.blocks for line in block.lines))
    assert hook.statuses()[0] == 200 and hook.statuses()[1] == 429 and hook.statuses()[-1] == 200, hook.seen
    assert "one" in texts[0].lower() and "two" in texts[1].lower()


def test_read_v32_and_v21_raw_429_and_quota_shapes(server: Server) -> None:
    """Read v3.2 (whose msrest SDK never retries a POST) and v2.1 over plain HTTP: 429 with Azure's code,
    message and an integer Retry-After; a spent quota 403 with ComputerVision's words and no Retry-After."""
    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-read", rate=1, rate_seconds=60, burst=1)
    headers = {"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/octet-stream"}
    assert httpx.post(server.url + READ, content=small_page(), headers=headers, timeout=60).status_code == 202
    r = httpx.post(server.url + READ, content=small_page(), headers=headers, timeout=60)
    err = assert_azure_error(r, 429, "429")
    seconds = retry_after(r)
    assert 55 <= seconds <= 60 and err["message"] == RATE_MESSAGE.format(seconds)
    r = httpx.post(server.url + "/vision/v2.1/read/core/asyncBatchAnalyze", content=small_page(), headers=headers)
    assert r.status_code == 429 and r.json()["code"] == "429" and retry_after(r) >= 55
    assert r.json()["message"] == RATE_MESSAGE.format(r.headers["Retry-After"])

    key, key_id, _ = new_key(server)
    set_limits(server, key_id, "azure-read", pages_quota=1, quota_period="day")
    headers["Ocp-Apim-Subscription-Key"] = key
    assert httpx.post(server.url + READ, content=small_page(), headers=headers, timeout=60).status_code == 202
    r = httpx.post(server.url + READ, content=small_page(), headers=headers, timeout=60)
    err = assert_azure_error(r, 403, "403")
    assert err["message"] == (
        "Out of call volume quota for ComputerVision F0 pricing tier. Please retry after 1 days. "
        "To increase your rate limit switch to a paid tier."
    )


def test_a_service_not_subscribed_is_azures_401(server: Server) -> None:
    """A key that may call only Document Intelligence is, to Read, a key of another resource: 401 with
    API Management's words and challenge; Document Intelligence takes it."""
    key, key_id, _ = new_key(server)
    require_subscriptions(server, key_id, "azure-docintel")
    headers = {"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/octet-stream"}
    r = httpx.post(server.url + READ, content=small_page(), headers=headers, timeout=60)
    err = assert_azure_error(r, 401, "401")
    assert err["message"].startswith("Access denied due to invalid subscription key or wrong API endpoint.")
    assert r.headers["WWW-Authenticate"].startswith("AzureApiManagementKey ")
    assert analyze(docintel(server, key), small_page("Subscribed"), Attempts()).result(timeout=120).content
    assert refusals(server, key_id)[("azure-read", "NotSubscribed")] == 1
