"""Renders a JobView as Textract's Block list (contract §A.4): per page a PAGE, its LINEs, their WORDs, then
what AnalyzeDocument's FeatureTypes asked for, all from the one stored result (its layout for TABLES, FORMS
and LAYOUT). Geometry is a ratio of the page (BoundingBox and a 4-point Polygon, TL TR BR BL), confidences
0-100, ids UUIDs derived from the job id, so every Get* call and every result page names a block alike.
Pure functions: no I/O, no framework.

Structure is the core's (``LayoutResult``); the renderer only re-expresses it. Two re-expressions are
Textract's own: a spanning cell becomes a CELL per grid position under a MERGED_CELL (Textract's CELLs always
span 1), and FORMS' KEY_VALUE_SETs are the page's selection marks with their labels and its "Label: value"
lines (the core finds no key-value pairs of its own yet)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from ocrgw.jobs.schemas import CellResult, JobView, LayoutResult, PageResult, TableResult
from ocrgw.render.document import layout_items

MODEL_VERSION = "1.0"
TEXT_VERSION_KEY = "DetectDocumentTextModelVersion"
ANALYSIS_VERSION_KEY = "AnalyzeDocumentModelVersion"
ROLES = {
    "title": "LAYOUT_TITLE",
    "sectionHeading": "LAYOUT_SECTION_HEADER",
    "pageHeader": "LAYOUT_HEADER",
    "pageFooter": "LAYOUT_FOOTER",
    "pageNumber": "LAYOUT_PAGE_NUMBER",
}
KINDS = {"columnHeader": ["COLUMN_HEADER"]}  # rowHeader and stubHead have no Textract entity type

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in page units


def _extent(bbox: Sequence[float]) -> Box:
    xs, ys = bbox[0::2], bbox[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _union(boxes: Sequence[Box]) -> Box:
    return min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)


def _ratio(v: float, size: float) -> float:
    return float(round(min(1.0, max(0.0, v / size)), 6)) if size > 0 else 0.0


def geometry(page: PageResult, bbox: Sequence[float] | Box) -> dict:
    """BoundingBox and Polygon as ratios of the page; an 8-value quad keeps its own corners (a turned word)."""
    w, h = page.width, page.height
    x0, y0, x1, y1 = _extent(bbox)
    left, top = _ratio(x0, w), _ratio(y0, h)
    box = {"Width": float(round(_ratio(x1, w) - left, 6)), "Height": float(round(_ratio(y1, h) - top, 6))}
    box.update({"Left": left, "Top": top})
    quad = list(bbox) if len(bbox) == 8 else [x0, y0, x1, y0, x1, y1, x0, y1]
    polygon = [{"X": _ratio(quad[i], w), "Y": _ratio(quad[i + 1], h)} for i in range(0, 8, 2)]
    return {"BoundingBox": box, "Polygon": polygon}


def confidence(value: float | None) -> float:
    """0-1 in the core, 0-100 in Textract; always a JSON float."""
    return float(round(min(100.0, max(0.0, (value if value is not None else 1.0) * 100)), 4))


@dataclass(slots=True)
class _Out:
    """The blocks of one page as they are made, and the ids handed out (stable: uuid5 of job id and name)."""

    job: uuid.UUID
    page: PageResult
    blocks: list[dict] = field(default_factory=list)
    top: list[str] = field(default_factory=list)  # the PAGE's CHILD ids besides its lines

    def id(self, name: str) -> str:
        return str(uuid.uuid5(self.job, f"{self.page.page_no}/{name}"))

    def add(self, kind: str, name: str, bbox: Sequence[float] | Box, **members: object) -> str:
        block_id = self.id(name)
        block: dict = {"BlockType": kind}
        if "Confidence" in members:
            block["Confidence"] = members.pop("Confidence")
        block["Geometry"] = geometry(self.page, bbox)
        block["Id"] = block_id
        relations: dict[str, list[str]] = members.pop("relations", None) or {}  # type: ignore[assignment]
        block.update(members)
        rel = [{"Type": t, "Ids": ids} for t, ids in relations.items() if ids]
        if rel:
            block["Relationships"] = rel
        block["Page"] = self.page.page_no
        self.blocks.append(block)
        return block_id


def _words_of(out: _Out, lines: Sequence[int]) -> list[str]:
    return [out.id(f"w{li}.{wi}") for li in lines for wi in range(len(out.page.lines[li].words))]


def _text_blocks(out: _Out) -> list[str]:
    """LINEs then WORDs, as Textract orders them; returns the line ids."""
    page, line_ids, words = out.page, [], []
    for li, line in enumerate(page.lines):
        kind = "HANDWRITING" if line.style == "handwriting" else "PRINTED"
        ids = []
        for wi, word in enumerate(line.words):
            ids.append(out.id(f"w{li}.{wi}"))
            words.append((f"w{li}.{wi}", word, kind))
        line_ids.append(
            out.add(
                "LINE",
                f"l{li}",
                line.bbox,
                Confidence=confidence(line.confidence),
                Text=line.text,
                relations={"CHILD": ids},
            )
        )
    for name, word, kind in words:
        out.add("WORD", name, word.bbox, Confidence=confidence(word.confidence), Text=word.text, TextType=kind)
    return line_ids


def _marks(out: _Out, lay: LayoutResult) -> None:
    for mi, mark in enumerate(lay.marks):
        status = "SELECTED" if mark.selected else "NOT_SELECTED"
        out.add(
            "SELECTION_ELEMENT", f"m{mi}", mark.bbox, Confidence=confidence(mark.confidence), SelectionStatus=status
        )


def _cell_children(out: _Out, cell: CellResult, within: Box | None = None) -> list[str]:
    """A cell's WORDs and SELECTION_ELEMENTs; with ``within`` only those whose centre lies in that box."""

    def inside(bbox: Sequence[float]) -> bool:
        if within is None:
            return True
        x0, y0, x1, y1 = _extent(bbox)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return within[0] <= cx < within[2] and within[1] <= cy < within[3]

    page = out.page
    ids = [out.id(f"w{li}.{wi}") for li in cell.lines for wi, w in enumerate(page.lines[li].words) if inside(w.bbox)]
    return ids + [out.id(f"m{m}") for m in cell.marks if inside((page.layout or LayoutResult()).marks[m].bbox)]


def _table(out: _Out, ti: int, table: TableResult) -> str:
    """TABLE, a CELL per grid position (1-based), a MERGED_CELL over each spanning cell's positions."""
    cells, merged = [], []
    for ci, cell in enumerate(table.cells):
        x0, y0, x1, y1 = _extent(cell.bbox)
        dx, dy = (x1 - x0) / cell.col_span, (y1 - y0) / cell.row_span
        parts = []
        for r in range(cell.row_span):
            for c in range(cell.col_span):
                part: Box = (x0 + c * dx, y0 + r * dy, x0 + (c + 1) * dx, y0 + (r + 1) * dy)
                spans = cell.row_span > 1 or cell.col_span > 1
                children = _cell_children(out, cell, part if spans else None)
                members: dict = {"RowIndex": cell.row + r + 1, "ColumnIndex": cell.col + c + 1}
                members.update({"RowSpan": 1, "ColumnSpan": 1})
                if cell.kind in KINDS:
                    members["EntityTypes"] = KINDS[cell.kind]
                name = f"t{ti}.c{ci}.{r}.{c}"
                parts.append(out.add("CELL", name, part, Confidence=90.0, relations={"CHILD": children}, **members))
        cells += parts
        if len(parts) > 1:
            members = {"RowIndex": cell.row + 1, "ColumnIndex": cell.col + 1}
            members.update({"RowSpan": cell.row_span, "ColumnSpan": cell.col_span})
            if cell.kind in KINDS:
                members["EntityTypes"] = KINDS[cell.kind]
            merged.append(
                out.add(
                    "MERGED_CELL", f"t{ti}.mc{ci}", cell.bbox, Confidence=90.0, relations={"CHILD": parts}, **members
                )
            )
    # ``cells`` holds origin cells row by row, so their grid positions come out in reading order
    rel = {"CHILD": cells, "MERGED_CELL": merged}
    return out.add("TABLE", f"t{ti}", table.bbox, Confidence=90.0, EntityTypes=["STRUCTURED_TABLE"], relations=rel)


def _pair(out: _Out, name: str, key_words: list[str], key_box: Box, value_ids: list[str], value_box: Box) -> None:
    value_id = out.add(
        "KEY_VALUE_SET", f"{name}.v", value_box, Confidence=80.0, EntityTypes=["VALUE"], relations={"CHILD": value_ids}
    )
    out.top += [
        out.add(
            "KEY_VALUE_SET",
            f"{name}.k",
            key_box,
            Confidence=80.0,
            EntityTypes=["KEY"],
            relations={"VALUE": [value_id], "CHILD": key_words},
        ),
        value_id,
    ]


def _forms(out: _Out, lay: LayoutResult) -> None:
    """KEY_VALUE_SETs: each loose selection mark keyed by the label on its row (the line it precedes in
    reading order), and each "Label: value" line outside tables split after the word ending in ':'."""
    page = out.page
    in_tables = {li for t in lay.tables for c in t.cells for li in c.lines}
    in_cells = {m for t in lay.tables for c in t.cells for m in c.marks}
    labelled: set[int] = set()
    for mi, mark in enumerate(lay.marks):
        if mi in in_cells or mark.before >= len(page.lines):
            continue
        li, mb = mark.before, _extent(mark.bbox)
        lb = _extent(page.lines[li].bbox)
        if min(mb[3], lb[3]) <= max(mb[1], lb[1]):  # not on the same row: no label to key it by
            continue
        labelled.add(li)
        _pair(out, f"kv.m{mi}", _words_of(out, [li]), lb, [out.id(f"m{mi}")], mb)
    for li, line in enumerate(page.lines):
        if li in in_tables or li in labelled:
            continue
        cut = next((wi for wi, w in enumerate(line.words) if w.text.endswith(":")), None)
        if cut is None or cut == len(line.words) - 1:
            continue
        key, value = line.words[: cut + 1], line.words[cut + 1 :]
        key_ids = [out.id(f"w{li}.{wi}") for wi in range(cut + 1)]
        value_ids = [out.id(f"w{li}.{wi}") for wi in range(cut + 1, len(line.words))]
        key_box = _union([_extent(w.bbox) for w in key])
        _pair(out, f"kv.l{li}", key_ids, key_box, value_ids, _union([_extent(w.bbox) for w in value]))


def _layout(out: _Out, lay: LayoutResult, line_ids: list[str]) -> None:
    """LAYOUT_* blocks in reading order, each with its LINEs as CHILD."""
    page = out.page

    def block(kind: str, name: str, lines: list[int], bbox: Sequence[float] | None = None) -> None:
        if bbox is None and not lines:
            return
        where = bbox if bbox is not None else _union([_extent(page.lines[i].bbox) for i in lines])
        ids = [line_ids[i] for i in lines]
        out.top.append(out.add(kind, name, where, Confidence=90.0, relations={"CHILD": ids}))

    for kind, i in layout_items(page, lay):
        if kind == "paragraph":
            para = lay.paragraphs[i]
            block(ROLES.get(para.role or "", "LAYOUT_TEXT"), f"lp{i}", para.lines)
        elif kind == "table":
            table = lay.tables[i]
            lines = sorted({li for c in table.cells for li in c.lines})
            block("LAYOUT_TABLE", f"lt{i}", lines, table.bbox)
        elif kind == "figure":
            fig = lay.figures[i]
            parts = ([fig.caption] if fig.caption is not None else []) + list(fig.paragraphs)
            block("LAYOUT_FIGURE", f"lf{i}", [li for p in parts for li in lay.paragraphs[p].lines], fig.bbox)


def page_blocks(job_id: str, page: PageResult, features: Sequence[str]) -> list[dict]:
    """One page's blocks: PAGE, LINEs, WORDs, then the features' blocks."""
    out = _Out(uuid.UUID(job_id), page)
    out.add("PAGE", "page", (0.0, 0.0, page.width, page.height))
    line_ids = _text_blocks(out)
    lay = page.layout or LayoutResult()
    if features:
        if "TABLES" in features or "FORMS" in features:
            _marks(out, lay)
        if "TABLES" in features:
            out.top += [_table(out, ti, table) for ti, table in enumerate(lay.tables)]
        if "FORMS" in features:
            _forms(out, lay)
        if "LAYOUT" in features:
            _layout(out, lay, line_ids)
    children = line_ids + out.top
    if children:  # before "Page", where every other block has it
        head = out.blocks[0]
        head.pop("Page")
        head.update({"Relationships": [{"Type": "CHILD", "Ids": children}], "Page": page.page_no})
    return out.blocks


def features_of(view: JobView) -> list[str]:
    return [f for f in (view.spec.options.get("features") or "").split(",") if f]


def blocks(view: JobView) -> list[dict]:
    pages = sorted(view.pages or [], key=lambda p: p.page_no)
    features = features_of(view)
    return [b for page in pages for b in page_blocks(view.id, page, features)]


def version_key(view: JobView) -> str:
    return ANALYSIS_VERSION_KEY if view.spec.options.get("api") == "analysis" else TEXT_VERSION_KEY


def sync_result(view: JobView) -> dict:
    """DetectDocumentText / AnalyzeDocument's answer."""
    return {
        "DocumentMetadata": {"Pages": max(1, len(view.pages or []))},
        "Blocks": blocks(view),
        version_key(view): MODEL_VERSION,
    }
