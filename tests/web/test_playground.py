"""The web playground at / end to end in headless Chromium, as a person uses it: key, file, options,
submit, progress, then the drawn page checked against the native API's own result (box count, box
positions on screen, colours by confidence, text) and every download button's file.

The shared dev page is a TIFF, which Chromium cannot display; the test converts it to PNG first (the
playground would otherwise draw the boxes on a blank page of the image's size, which it says)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.conftest import Server, doc
from tests.web.browser import chrome, console_errors, foreign_requests, keep_screenshot, require_chromium, wait_for

pytestmark = pytest.mark.slow

# Computed stroke colours of the three confidence bands (app.css --conf-high/-mid/-low).
BAND_COLOURS = {"conf-high": "rgb(26, 127, 55)", "conf-mid": "rgb(217, 119, 6)", "conf-low": "rgb(214, 40, 40)"}
CONTENT_TYPES = {
    "json": "application/json",
    "text": "text/plain",
    "hocr": "application/xhtml+xml",
    "alto": "application/xml",
    "tsv": "text/tab-separated-values",
    "pdf": "application/pdf",
}
EXTENSIONS = {"json": "json", "text": "txt", "hocr": "hocr.html", "alto": "alto.xml", "tsv": "tsv", "pdf": "pdf"}


def band(confidence: float) -> str:
    return "conf-high" if confidence >= 0.9 else "conf-mid" if confidence >= 0.6 else "conf-low"


# Each word box's screen rectangle and colour, and the page image's rectangle, read in one go.
GEOMETRY_JS = """
const img = document.querySelector('[data-testid=page-image]');
const r = img.getBoundingClientRect();
const boxes = [...document.querySelectorAll('[data-testid=word-box]')].map(b => {
  const q = b.getBoundingClientRect();
  return {left: q.left, top: q.top, right: q.right, bottom: q.bottom, text: b.dataset.text,
          confidence: +b.dataset.confidence, stroke: getComputedStyle(b).stroke, cls: b.getAttribute('class')};
});
return {image: {left: r.left, top: r.top, width: r.width, height: r.height,
                natural: [img.naturalWidth, img.naturalHeight], complete: img.complete},
        boxes, lines: document.querySelectorAll('[data-testid=line-box]').length};
"""


def test_playground_reads_a_page_and_draws_it(web_server: Server, tmp_path: Path) -> None:
    require_chromium()
    tif = doc("page/tess_phototest.tif")
    png = tmp_path / "tess_phototest.png"
    Image.open(tif).save(png)
    srv = web_server
    downloads = tmp_path / "downloads"
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with chrome(tmp_path / "profile", downloads) as driver:
        driver.get(srv.url + "/")
        by_id = lambda testid: driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")  # noqa: E731
        wait_for(lambda: by_id("languages").get_attribute("data-loaded") == "true", message="the language list")
        models = [o.get_attribute("value") for o in Select(by_id("languages")).options]
        assert "eng" in models, models

        by_id("api-key").send_keys(srv.key)
        by_id("file-input").send_keys(str(png))
        assert "tess_phototest.png" in by_id("file-name").text
        Select(by_id("languages")).select_by_value("eng")
        assert [o.get_attribute("value") for o in Select(by_id("mode")).options] == ["", "default", "accurate"]
        Select(by_id("mode")).select_by_value("accurate")  # the second engine's boxes must draw right too
        by_id("searchable-pdf").click()
        by_id("submit").click()
        wait_for(
            lambda: (
                driver.execute_script("return document.body.dataset.state")
                in ("queued", "running", "succeeded", "failed")
            ),
            message="the job to be submitted",
        )
        state = wait_for(
            lambda: (
                driver.execute_script("return document.body.dataset.state")
                if driver.execute_script("return document.body.dataset.state") in ("succeeded", "failed")
                else None
            ),
            timeout=90,
            message="the job to finish",
        )
        assert state == "succeeded", by_id("error").text
        assert not by_id("error").is_displayed()
        assert "1 of 1 pages read" in by_id("status").text
        assert driver.execute_script("return localStorage.getItem('ocrgw.playground.apiKey')") == srv.key

        job_id = by_id("result").get_attribute("data-job-id")
        r = httpx.get(f"{srv.url}/v1/jobs/{job_id}/result", headers={"X-API-Key": srv.key}, timeout=30)
        assert r.status_code == 200, r.text
        result = r.json()
        (page,) = result["pages"]
        words = [w for line in page["lines"] for w in line["words"]]
        assert len(words) > 50 and page["unit"] == "pixel"
        assert page["preprocessing"][0] == {"step": "engine", "name": "rapidocr", "mode": "accurate"}

        geo = wait_for(
            lambda: (g := driver.execute_script(GEOMETRY_JS))["image"]["complete"] and g, message="the page image"
        )
        img, boxes = geo["image"], geo["boxes"]
        # The uploaded PNG itself is shown, at the page's aspect ratio.
        assert img["natural"] == [page["width"], page["height"]]
        assert abs(img["width"] / img["height"] - page["width"] / page["height"]) < 0.01
        # One drawn box per word of the API's result, one per line, in the result's order.
        assert len(boxes) == len(words)
        assert geo["lines"] == len(page["lines"])
        assert [b["text"] for b in boxes] == [w["text"] for w in words]
        # Positions: the quad's extent scaled from page pixels to the displayed image, within 2 px.
        scale_x, scale_y = img["width"] / page["width"], img["height"] / page["height"]
        for i in sorted({0, 7, len(words) // 2, len(words) - 1}):
            xs, ys = words[i]["bbox"][0::2], words[i]["bbox"][1::2]
            want = (
                img["left"] + min(xs) * scale_x,
                img["top"] + min(ys) * scale_y,
                img["left"] + max(xs) * scale_x,
                img["top"] + max(ys) * scale_y,
            )
            got = (boxes[i]["left"], boxes[i]["top"], boxes[i]["right"], boxes[i]["bottom"])
            assert all(abs(g - w) <= 2 for g, w in zip(got, want, strict=True)), (words[i]["text"], got, want)
        # Colours follow confidence.
        for word, box in zip(words, boxes, strict=True):
            assert band(word["confidence"]) in box["cls"].split(), (word, box)
            assert box["stroke"] == BAND_COLOURS[band(word["confidence"])], (word, box)

        # The text beside the page is the API's text.
        assert by_id("result-text").get_attribute("textContent") == result["text"]
        assert "quick brown dog" in result["text"]

        # Hovering a word says what it is and how sure the engine was.
        first = driver.find_elements(By.CSS_SELECTOR, "[data-testid=word-box]")[0]
        ActionChains(driver).move_to_element(first).perform()
        info = wait_for(
            lambda: words[0]["text"] in by_id("word-info").text and by_id("word-info").text,
            message="the hovered word's info",
        )
        assert f"{words[0]['confidence'] * 100:.1f} %" in info

        shot = keep_screenshot(driver, tmp_path, "playground.png")

        # Every download button fetches its export with the key and saves it.
        for fmt, ctype in CONTENT_TYPES.items():
            button = by_id(f"download-{fmt}")
            assert button.is_enabled(), fmt
            button.click()
            got = wait_for(lambda b=button: b.get_attribute("data-content-type"), message=f"the {fmt} download")
            assert got.split(";")[0].strip() == ctype, (fmt, got)
            size = int(button.get_attribute("data-size"))
            saved = wait_for(
                lambda f=fmt, n=size: (
                    (p := downloads / f"{job_id}.{EXTENSIONS[f]}").is_file() and p.stat().st_size == n and p
                ),
                message=f"{fmt} saved to disk",
            )
            if fmt == "json":
                assert json.loads(saved.read_bytes())["id"] == job_id
            elif fmt == "pdf":
                assert saved.read_bytes().startswith(b"%PDF")
            elif fmt == "text":
                assert (
                    saved.read_text()
                    == httpx.get(f"{srv.url}/v1/jobs/{job_id}/result?format=text", headers={"X-API-Key": srv.key}).text
                )
        assert not by_id("error").is_displayed()
        assert foreign_requests(driver, srv.url) == []
        assert console_errors(driver) == []
    assert shot.stat().st_size > 10_000


# Renders a made-up page with the playground's own module, one word per confidence band.
BANDS_JS = """
const done = arguments[arguments.length - 1];
import('./static/overlay.js').then(m => {
  const word = (text, confidence, x) => ({text, confidence, bbox: [x, 10, x + 40, 10, x + 40, 30, x, 30]});
  const page = {page: 1, width: 300, height: 60, unit: 'inch', lines: [{text: 'a b c d', confidence: 0.7,
    bbox: [5, 5, 295, 5, 295, 35, 5, 35], words: [word('a', 0.95, 10), word('b', 0.9, 60), word('c', 0.6, 110),
    word('d', 0.59, 160)]}]};
  const figure = m.renderPage(page, {imageSrc: null, onWord: () => {}});
  document.getElementById('page-list').replaceChildren(figure);
  document.getElementById('result').hidden = false;
  done({strokes: [...figure.querySelectorAll('[data-testid=word-box]')].map(b => getComputedStyle(b).stroke),
        note: figure.querySelector('[data-testid=page-note]').textContent,
        blank: figure.querySelector('.sheet').classList.contains('blank')});
}).catch(e => done({error: String(e)}));
"""


def test_playground_error_envelope_and_colour_bands(web_server: Server, tmp_path: Path) -> None:
    """A wrong key: the native error (code and message) is shown, and nothing is drawn. Then the three
    colour bands at their edges, and a PDF page's blank sheet with its note, from the page's own module."""
    require_chromium()
    from selenium.webdriver.common.by import By

    srv = web_server
    png = tmp_path / "tiny.png"
    Image.new("L", (40, 20), 255).save(png)
    with chrome(tmp_path / "profile") as driver:
        driver.get(srv.url + "/")
        by_id = lambda testid: driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")  # noqa: E731
        by_id("api-key").send_keys("not-a-key")
        by_id("file-input").send_keys(str(png))
        by_id("submit").click()
        wait_for(lambda: driver.execute_script("return document.body.dataset.state") == "failed", message="the refusal")
        text = by_id("error").text
        assert "HTTP 401" in text and "InvalidKey" in text, text
        assert not by_id("result").is_displayed()

        bands = driver.execute_async_script(BANDS_JS)
        assert "error" not in bands, bands
        high, mid, low = BAND_COLOURS["conf-high"], BAND_COLOURS["conf-mid"], BAND_COLOURS["conf-low"]
        assert bands["strokes"] == [high, high, mid, low]
        assert bands["blank"] and "PDF pages are not rendered" in bands["note"]
