"""Handwriting dev set: real handwriting with human transcriptions, as single text lines (kind ``hw_line``) and
whole pages (kind ``hw_page``, with line boxes), in ocr-dev's manifest.jsonl format, so accuracy.py and
``<shared>/tools/ocr_eval.py`` can score the engines on what ocr-dev hardly has (its only handwriting is the odd
field on a FUNSD form). It sits beside heldout.py and works the same way: nothing is committed, the script
rebuilds the set from local git mirrors of three public repositories at pinned commits (``git ls-tree`` /
``cat-file``, no network) into ``--out``.

* Sources (all Latin script, transcribed line by line with polygons by their projects):
  ``jschaefer738b/JosephHookerHTR`` @ ece58297 (``hooker``: letters of J. D. Hooker, 1850-1911, English, one
  hand, PAGE XML), ``PSL-Chartes-HTR-Students/HN2021-Memorials_Jane_Lathrop_Stanford`` @ 9266adbc (``stanford``:
  condolence letters of 1905 by many writers, English, ALTO with a handwritten / typewritten / print type per
  line) and ``banq-dcn/Copiste-d-un-jour`` @ a3636d2e (``copiste``: Wikipedia summaries copied by hand by 267
  volunteers in 2024, French, ALTO). Modern English handwriting with transcriptions (IAM, GNHK, CVL) was not
  found in a GitHub repository the mirrors can hold (the one IAM copy, yocson/HandWritingDataSet, is 0.9 GB of
  sentence images without their transcriptions), so the modern hands here write French.
* Pages: every page of at least MIN_PAGE_LINES lines that carry no editorial mark (``[sic]``, ``^``, ``⟦ ⟧``,
  ``>crossed out<``), have polygons that hold the writing (MIN_HEIGHT_SHARE) and are at least HAND_SHARE
  handwritten; pages published twice (same image blob) count once. The image is
  copied byte for byte; ``lines`` = the GT lines in the transcriber's order, bbox = hull of the line polygon,
  ``style`` = ``handwriting`` or ``other`` (the stanford lines typed Print/Typewritten, with the type in
  ``label``); ``text`` = the lines joined by newlines.
* Lines: cut from pages of the same sources that were not taken as pages (so no line is also inside a page row):
  handwritten lines of at least MIN_LINE_CHARS characters and two words, no editorial mark, not thin, at most
  LINES_PER_PAGE per page. The crop is the polygon's bounding box plus PAD pixels, pixels outside the polygon
  painted the crop's median colour (so parts of the neighbouring lines do not leak in), saved as PNG.
* Selection: candidates sorted by path, shuffled with ``random.Random(f"{seed}-{subset}")``, the first
  ``--pages`` pages and then ``--lines`` lines of each source; a page whose image size differs from its XML's is
  skipped. Same mirrors and options, same manifest (the line PNGs depend on Pillow's encoder).

    .venv/bin/python bench/handwriting.py --hooker-git H.git --stanford-git S.git --copiste-git C.git --out /tmp/hwset
    .venv/bin/python bench/accuracy.py --manifest /tmp/hwset/manifest.jsonl

See bench/README.md ("handwriting.py") for where the mirrors come from and what each licence allows.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import statistics
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, ImageDraw, ImageStat

from heldout import Mirror

SEED = 20261123
PAGES = 5  # per source
LINES = 20  # per source
LINES_PER_PAGE = 2  # spread the lines over many pages (and, for stanford and copiste, many writers)
MIN_LINE_CHARS = 12
MIN_PAGE_LINES = 6  # a page row is a page of text, not the tail of a letter continued from the page before
HAND_SHARE = 0.5  # a page needs at least this share of handwritten lines
# A line polygon lower than this share of its page's median line height cuts through the writing (some automatic
# Transkribus regions in hooker, ~6 % of its lines): such a line is not cut out, and its page is not taken.
MIN_HEIGHT_SHARE = 0.6
PAD = 12  # pixels of background around a cut line
OTHER_TYPES = ("Print", "Typewritten")  # line types (segmOnto, stanford) that are not handwriting
EDITORIAL = re.compile(r"[\[\]⟦⟧<>^]")  # [sic] [?] [145], ^superscript, ⟦struck⟧, >crossed out<, >< unreadable
NOTES = "handwriting set, built 2026-11-23"  # fixed, not today's date: a rebuild gives the same manifest

LINE_NOTES = (
    f"hw_line cut from the page: bbox of the GT line polygon + {PAD} px, pixels outside the polygon painted the"
    " crop's median colour, PNG; bbox = whole image; "
)


@dataclass(frozen=True)
class Source:
    """One repository at one commit, with the terms its images and transcriptions come under."""

    subset: str
    repo: str
    commit: str
    license: str
    notes: str


SOURCES = {
    "hooker": Source(
        "hooker",
        "jschaefer738b/JosephHookerHTR",
        "ece582973283818621e956163f295fcde672786c",
        "Transcriptions: CC-BY-SA 4.0 (the HTR-United catalogue entry of the dataset; the repository has no licence"
        " file). Images: (c) Board of Trustees of the Royal Botanic Gardens, Kew, 'reproduced with the kind"
        " permission' (repository README) - no licence to redistribute: internal evaluation only",
        "Letters of Joseph Dalton Hooker (1817-1911), mostly to W. T. Thiselton-Dyer; English, 19th-century cursive,"
        " one hand; Transkribus PAGE XML, transcribed partly by volunteers of the Joseph Hooker Correspondence Project;"
        " scans show ink from the other side and folds; folio numbers pencilled in the margins are not in the GT;"
        " dashes are transcribed '--' and fractions '1/2'",
    ),
    "stanford": Source(
        "stanford",
        "PSL-Chartes-HTR-Students/HN2021-Memorials_Jane_Lathrop_Stanford",
        "9266adbc8aea6564b4b8447bcbe205ae1c1e87f2",
        "Transcriptions: CC-BY 4.0 (htr-united.yml and CITATION.CFF, doi:10.5281/zenodo.6126625). Images: Stanford"
        " University Archives via FromThePage, no licence stated - internal evaluation only, do not redistribute",
        "Condolence letters on Jane Lathrop Stanford's death, 1905; English, many writers, letterheads printed;"
        " eScriptorium ALTO, lines typed Handwritten/Print/Typewritten/Signature (label); Print and Typewritten lines"
        " have style 'other', typed date stamps included; pencilled archive numbers are not in the GT",
    ),
    "copiste": Source(
        "copiste",
        "banq-dcn/Copiste-d-un-jour",
        "a3636d2e151b4312973cfb88438a0c4ccd1eb523",
        "CC-BY 4.0, BAnQ (repository LICENSE and README; the printed consent on each form says the manuscript may be"
        " shared under CC-BY 'à des fins non commerciales'); attribution required",
        "Copiste d'un jour: Wikipedia summaries copied by hand by volunteers in 2024 (one writer per text), FRENCH,"
        " on lined paper; eScriptorium ALTO; the first line is the form id, written by hand; on 'imp_' forms the"
        " two-line consent at the top is PRINTED and NOT in the GT (page CER counts its OCR as insertions, lnCER"
        " ignores it), on the others the volunteer copied the consent by hand and it is in the GT",
    ),
}


@dataclass
class GtLine:
    """One transcribed line: the text (NFC, whitespace collapsed), its polygon and the source's line type."""

    ident: str
    text: str
    polygon: list[tuple[int, int]]
    label: str | None

    @property
    def bbox(self) -> list[int]:
        xs, ys = [x for x, _ in self.polygon], [y for _, y in self.polygon]
        return [min(xs), min(ys), max(xs), max(ys)]

    @property
    def height(self) -> int:
        return self.bbox[3] - self.bbox[1]

    @property
    def style(self) -> str:
        return "other" if self.label and self.label.split(":")[-1] in OTHER_TYPES else "handwriting"


@dataclass
class Doc:
    """A page image and its transcription, as the source has them."""

    image: str
    xml: str
    size: tuple[int, int]  # width, height the XML gives
    lines: list[GtLine]

    def thin(self, line: GtLine) -> bool:
        """The polygon is much lower than the page's usual line: it misses part of the writing."""
        return line.height < MIN_HEIGHT_SHARE * statistics.median(x.height for x in self.lines)


class Repo(Mirror):
    """heldout.py's mirror reader (pinned commit, bytes as committed) plus a listing with blob ids and a batch
    read: the builder parses ~700 XML files and must tell two copies of one image apart from two images."""

    def blobs(self) -> dict[str, str]:
        """Path -> blob id for every file at the commit."""
        out = self._git("ls-tree", "-r", self.commit).stdout.decode()
        return {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines()}

    def read_many(self, paths: list[str]) -> dict[str, bytes]:
        """Many files in one ``git cat-file --batch`` instead of a process each."""
        query = "".join(f"{self.commit}:{p}\n" for p in paths).encode()
        out = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"], input=query, capture_output=True, check=True
        ).stdout
        files, pos = {}, 0
        for path in paths:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            if len(header) != 3:
                sys.exit(f"{self.repo}: cannot read {path} at {self.commit}")
            size = int(header[2])
            files[path] = out[end + 1 : end + 1 + size]
            pos = end + 2 + size
        return files


# ------------------------------------------------------------------------------------------- parsing
def clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def parse_page_xml(data: bytes) -> tuple[tuple[int, int], list[GtLine]]:
    """PAGE XML (Transkribus): regions in the ReadingOrder's order (unlisted ones after, in file order), lines in
    file order within a region; a line's text is its own TextEquiv, not the words'."""
    root = ET.fromstring(data)
    page = root.find(".//{*}Page")
    assert page is not None, "no Page element"
    order = {r.get("regionRef"): int(r.get("index", 0)) for r in root.iterfind(".//{*}RegionRefIndexed")}
    regions = sorted(page.iterfind(".//{*}TextRegion"), key=lambda r: order.get(r.get("id"), len(order)))
    lines = []
    for region in regions:
        for line in region.findall("{*}TextLine"):
            uni, coords = line.find("{*}TextEquiv/{*}Unicode"), line.find("{*}Coords")
            if uni is None or coords is None or not clean(uni.text or ""):
                continue
            xy = [p.split(",") for p in coords.get("points", "").split()]
            points = [(int(float(x)), int(float(y))) for x, y in xy]
            lines.append(GtLine(line.get("id", ""), clean(uni.text or ""), points, None))
    return (int(page.get("imageWidth", 0)), int(page.get("imageHeight", 0))), lines


def parse_alto(data: bytes) -> tuple[tuple[int, int], list[GtLine]]:
    """ALTO 4 (eScriptorium): lines in file order (the transcriber's), text = the line's Strings, polygon from
    Shape/Polygon (else the HPOS/VPOS box), the line type from the TAGREFS' OtherTag label."""
    root = ET.fromstring(data)
    page = root.find(".//{*}Page")
    assert page is not None, "no Page element"
    tags = {t.get("ID"): t.get("LABEL") for t in root.iterfind(".//{*}OtherTag")}
    lines = []
    for line in root.iterfind(".//{*}TextLine"):
        text = clean(" ".join(s.get("CONTENT", "") for s in line.iterfind(".//{*}String")))
        if not text:
            continue
        poly = line.find("{*}Shape/{*}Polygon")
        if poly is not None:
            vals = [int(float(v)) for v in poly.get("POINTS", "").replace(",", " ").split()]
            points = list(zip(vals[0::2], vals[1::2], strict=True))
        else:
            x, y, w, h = (int(float(line.get(k, 0))) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            points = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
        label = tags.get((line.get("TAGREFS") or "").split(" ")[0])
        lines.append(GtLine(line.get("ID", ""), text, points, label))
    return (int(float(page.get("WIDTH", 0))), int(float(page.get("HEIGHT", 0)))), lines


def xml_for(image: str, files: dict[str, str]) -> str | None:
    """The transcription beside an image: same path with .xml, or ``alto/NAME.xml`` for ``jpg/NAME.jpg``."""
    p = PurePosixPath(image)
    for cand in (str(p.with_suffix(".xml")), f"alto/{p.stem}.xml"):
        if cand in files:
            return cand
    return None


def load_docs(repo: Repo) -> list[Doc]:
    """Every page image with a transcription, sorted by path; of images committed twice (same blob), the first."""
    files = repo.blobs()
    pairs = [(img, xml_for(img, files)) for img in sorted(files) if img.lower().endswith((".jpg", ".jpeg", ".png"))]
    pairs = [(img, xml) for img, xml in pairs if xml]
    xmls = repo.read_many([xml for _, xml in pairs if xml])
    docs, seen = [], set()
    for img, xml in pairs:
        assert xml is not None
        if files[img] in seen:
            continue
        seen.add(files[img])
        data = xmls[xml]
        size, lines = parse_page_xml(data) if b"primaresearch.org/PAGE" in data[:2000] else parse_alto(data)
        docs.append(Doc(img, xml, size, lines))
    return docs


# ----------------------------------------------------------------------------------------- selection
def page_ok(doc: Doc) -> bool:
    if len(doc.lines) < MIN_PAGE_LINES or any(EDITORIAL.search(line.text) or doc.thin(line) for line in doc.lines):
        return False
    hand = sum(line.style == "handwriting" for line in doc.lines)
    return hand >= HAND_SHARE * len(doc.lines)


def line_ok(doc: Doc, line: GtLine) -> bool:
    """Handwritten, long enough to score, no editorial mark, a polygon that holds the writing; two words at
    least, which also drops signatures and the copiste form ids (``wikitexte_0024``)."""
    if line.style != "handwriting" or (line.label or "").endswith("Signature") or doc.thin(line):
        return False
    return len(line.text) >= MIN_LINE_CHARS and len(line.text.split()) >= 2 and not EDITORIAL.search(line.text)


def same_size(data: bytes, doc: Doc) -> bool:
    """The image is the size the coordinates refer to (read from its header, not decoded)."""
    size = Image.open(io.BytesIO(data)).size
    if size != doc.size:
        print(f"  skipped {doc.image}: image {size} but XML {doc.size}", file=sys.stderr)
    return size == doc.size


def select(
    repo: Repo, docs: list[Doc], n_pages: int, n_lines: int, seed: int, subset: str
) -> tuple[list[tuple[Doc, bytes]], list[tuple[Doc, bytes, list[GtLine]]]]:
    """The first n_pages eligible pages in seeded shuffle order, then lines from the pages after them."""
    rng = random.Random(f"{seed}-{subset}")
    order = list(docs)
    rng.shuffle(order)
    pages: list[tuple[Doc, bytes]] = []
    rest = []
    for doc in order:
        if len(pages) < n_pages and page_ok(doc):
            data = repo.read(doc.image)
            if same_size(data, doc):
                pages.append((doc, data))
                continue
        rest.append(doc)
    lines: list[tuple[Doc, bytes, list[GtLine]]] = []
    count = 0
    for doc in rest:
        cands = [line for line in doc.lines if line_ok(doc, line)]
        if count >= n_lines or not cands:
            continue
        data = repo.read(doc.image)
        if same_size(data, doc):
            rng.shuffle(cands)
            lines.append((doc, data, cands[: min(LINES_PER_PAGE, n_lines - count)]))
            count += len(lines[-1][2])
    for want, got, what in ((n_pages, len(pages), "pages"), (n_lines, count, "lines")):
        if got < want:
            print(f"  only {got} of {want} {subset} {what} available", file=sys.stderr)
    return pages, lines


# ------------------------------------------------------------------------------------------- output
def cut_line(rgb: Image.Image, line: GtLine) -> bytes:
    """The line's polygon on the paper's own colour: bounding box + PAD, outside the polygon the crop's median
    colour, so ascenders and descenders of the lines above and below do not leak in."""
    x0, y0, x1, y1 = line.bbox
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(rgb.width, x1), min(rgb.height, y1)
    region = rgb.crop((x0, y0, x1, y1))
    fill = tuple(int(v) for v in ImageStat.Stat(region).median)
    mask = Image.new("L", region.size, 0)
    ImageDraw.Draw(mask).polygon([(x - x0, y - y0) for x, y in line.polygon], fill=255)
    out = Image.new("RGB", (region.width + 2 * PAD, region.height + 2 * PAD), fill)
    out.paste(region, (PAD, PAD), mask)
    buf = io.BytesIO()
    out.save(buf, "PNG")
    return buf.getvalue()


def gt_line(line: GtLine, size: tuple[int, int]) -> dict[str, Any]:
    """A manifest line; the box clipped to the image (a few polygons reach a pixel or two past its edge)."""
    x0, y0, x1, y1 = line.bbox
    bbox = [max(0, x0), max(0, y0), min(size[0], x1), min(size[1], y1)]
    row: dict[str, Any] = {"text": line.text, "bbox": bbox, "style": line.style}
    if line.label:
        row["label"] = line.label
    return row


def page_row(src: Source, repo: Repo, doc: Doc) -> tuple[str, dict[str, Any]]:
    stem = PurePosixPath(doc.image).stem.replace(" ", "_")
    image = f"hw_page/{src.subset}_{stem}{PurePosixPath(doc.image).suffix.lower()}"
    return image, {
        "image": image,
        "text": "\n".join(line.text for line in doc.lines),
        "lines": [gt_line(line, doc.size) for line in doc.lines],
        "source": repo.source(doc.image, doc.xml),
        "license": src.license,
        "kind": "hw_page",
        "subset": src.subset,
        "notes": f"{src.notes}; page text = GT lines in the transcriber's order; {NOTES}",
    }


def line_row(src: Source, repo: Repo, doc: Doc, line: GtLine, png: bytes) -> tuple[str, dict[str, Any]]:
    stem = PurePosixPath(doc.image).stem.replace(" ", "_")
    image = f"hw_line/{src.subset}_{stem}_{line.ident}.png"
    w, h = Image.open(io.BytesIO(png)).size
    return image, {
        "image": image,
        "text": line.text,
        "lines": [{"text": line.text, "bbox": [0, 0, w, h], "style": "handwriting"}],
        "source": f"{repo.source(doc.image, doc.xml)}#{line.ident}",
        "license": src.license,
        "kind": "hw_line",
        "subset": src.subset,
        "notes": f"{LINE_NOTES}{src.notes}; {NOTES}",
    }


def build(mirrors: dict[str, Repo], out: Path, n_pages: int, n_lines: int, seed: int) -> list[dict[str, Any]]:
    """Write ``out/manifest.jsonl`` (pages of every source, then lines of every source) and the images."""
    pages: list[tuple[str, dict[str, Any], bytes]] = []
    lines: list[tuple[str, dict[str, Any], bytes]] = []
    for subset, repo in mirrors.items():
        src = SOURCES[subset]
        docs = load_docs(repo)
        print(f"{subset}: {len(docs)} transcribed page images, {sum(map(page_ok, docs))} eligible as pages")
        chosen_pages, chosen_lines = select(repo, docs, n_pages, n_lines, seed, subset)
        for doc, data in chosen_pages:
            pages.append((*page_row(src, repo, doc), data))
        for doc, data, doc_lines in chosen_lines:
            rgb = Image.open(io.BytesIO(data)).convert("RGB")  # one page decoded at a time (up to ~70 MB)
            for line in doc_lines:
                png = cut_line(rgb, line)
                lines.append((*line_row(src, repo, doc, line, png), png))
    rows = []
    for image, row, data in pages + lines:
        target = out / image
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        rows.append(row)
    with (out / "manifest.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


def summary(rows: list[dict[str, Any]], out: Path) -> None:
    """Counts per kind and subset, image sizes, GT lines by style: enough to see the build did what it says."""
    print(f"wrote {out / 'manifest.jsonl'}: {len(rows)} rows")
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind]
        sizes = [Image.open(out / r["image"]).size for r in sel]
        per = Counter(r["subset"] for r in sel)
        styles = Counter(line["style"] for r in sel for line in r["lines"])
        nbytes = sum((out / r["image"]).stat().st_size for r in sel)
        print(
            f"  {kind:8} {len(sel):3} images ({', '.join(f'{k} {v}' for k, v in sorted(per.items()))}); "
            f"width {min(w for w, _ in sizes)}-{max(w for w, _ in sizes)} px, "
            f"height {min(h for _, h in sizes)}-{max(h for _, h in sizes)} px; {nbytes / 1e6:.1f} MB; "
            f"GT lines {sum(styles.values())} ({', '.join(f'{k} {v}' for k, v in sorted(styles.items()))}); "
            f"{sum(len(r['text']) for r in sel)} GT characters"
        )


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for subset, src in SOURCES.items():
        ap.add_argument(f"--{subset}-git", type=Path, required=True, help=f"bare git dir of {src.repo}")
    ap.add_argument("--out", type=Path, required=True, help="output folder: manifest.jsonl, hw_page/, hw_line/")
    ap.add_argument("--pages", type=int, default=PAGES, help="pages per source (default %(default)s)")
    ap.add_argument("--lines", type=int, default=LINES, help="lines per source (default %(default)s)")
    ap.add_argument("--seed", type=int, default=SEED, help="shuffle seed (default %(default)s)")
    args = ap.parse_args(list(argv) if argv is not None else None)
    mirrors = {subset: Repo(getattr(args, f"{subset}_git"), src.repo, src.commit) for subset, src in SOURCES.items()}
    rows = build(mirrors, args.out, args.pages, args.lines, args.seed)
    summary(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
