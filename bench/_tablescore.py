"""Scores for bench/tables.py: TEDS (tree-edit-distance similarity, Zhong et al. 2020, as PubTabNet's
own metric.py defines it: the ``<table>`` tree with ``thead``/``tbody``/``tr``/``td``; renaming a node
costs 1 unless tag, colspan and rowspan agree, and two cells with text cost the normalised Levenshtein
distance of their text; structure-only TEDS ignores the text) computed with ``apted``; and cell-adjacency
F1 (ICDAR 2013/2019 style) for pages whose ground truth is cells with their left/right/top/bottom
neighbours (the cTDaR supplement).

Adjacency needs the predicted cells matched to the ground-truth ones; the ground truth there boxes each
cell's *content*, so the match goes through the page's OCR words, which every design shares: a word
belongs to the ground-truth cell whose box holds its centre and to the predicted cell that
``assign_words`` gave it, and a ground-truth cell maps to the predicted cell most of its words went to.
A ground-truth pair (i right of j, or i above j) is found when i and j map to two predicted cells that
are neighbours the same way (next non-empty cell in that direction, overlapping in rows or columns); a
predicted neighbour pair of non-empty cells is right when some ground-truth pair maps onto it."""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from apted import APTED, Config
from rapidfuzz.distance import Levenshtein

_TAGS = ("table", "thead", "tbody", "tr", "td", "th")


class _Node:
    __slots__ = ("children", "colspan", "content", "rowspan", "tag")

    def __init__(self, tag: str, colspan: int = 1, rowspan: int = 1, content: str | None = None) -> None:
        self.tag, self.colspan, self.rowspan, self.content = tag, colspan, rowspan, content
        self.children: list[_Node] = []

    def size(self) -> int:
        return 1 + sum(c.size() for c in self.children)


class _Costs(Config):  # type: ignore[misc]
    def __init__(self, structure_only: bool) -> None:
        self.structure_only = structure_only

    def rename(self, a: _Node, b: _Node) -> float:
        if a.tag != b.tag or a.colspan != b.colspan or a.rowspan != b.rowspan:
            return 1.0
        if a.tag == "td" and not self.structure_only and (a.content or b.content):
            return float(Levenshtein.normalized_distance(a.content or "", b.content or ""))
        return 0.0

    def children(self, node: _Node) -> list[_Node]:
        return node.children


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root: _Node | None = None
        self.stack: list[_Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _TAGS or (not self.stack and tag != "table"):
            return
        a = dict(attrs)
        cell = tag in ("td", "th")
        node = _Node(
            "td" if cell else tag, int(a.get("colspan") or 1), int(a.get("rowspan") or 1), "" if cell else None
        )
        if self.stack:
            self.stack[-1].children.append(node)
        else:
            self.root = node
        self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag in _TAGS and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1].tag == "td":
            self.stack[-1].content = (self.stack[-1].content or "") + data


def _tree(html: str) -> _Node | None:
    p = _Parser()
    p.feed(html)
    if p.root is not None:
        todo = [p.root]
        while todo:
            n = todo.pop()
            todo += n.children
            if n.content is not None:
                n.content = " ".join(n.content.split())
    return p.root


def teds(pred_html: str, true_html: str, structure_only: bool = False) -> float:
    """1 - tree edit distance / the larger tree's node count; 0 when nothing was predicted."""
    true, pred = _tree(true_html), _tree(pred_html)
    if true is None or pred is None:
        return 0.0
    dist = APTED(pred, true, _Costs(structure_only)).compute_edit_distance()
    return 1.0 - dist / max(pred.size(), true.size())


def table_html(table: object, words: dict[tuple[int, int], list]) -> str:  # type: ignore[type-arg]
    """A ``tables.Table`` as PubTabNet-style HTML: header rows (all their cells ``columnHeader``) in
    ``<thead>``, the rest in ``<tbody>``, each cell's words joined by spaces."""
    cells = sorted(table.cells, key=lambda c: (c.row, c.col))  # type: ignore[attr-defined]
    by_row: dict[int, list] = {}  # type: ignore[type-arg]
    for c in cells:
        by_row.setdefault(c.row, []).append(c)
    heads = 0
    while heads in by_row and all(c.kind == "columnHeader" for c in by_row[heads]):
        heads += 1
    parts = ["<table>"]
    for r in range(table.rows):  # type: ignore[attr-defined]
        if r == 0 and heads:
            parts.append("<thead>")
        if r == heads:
            parts.append("<tbody>")
        parts.append("<tr>")
        for c in by_row.get(r, []):
            span = (f' rowspan="{c.row_span}"' if c.row_span > 1 else "") + (
                f' colspan="{c.col_span}"' if c.col_span > 1 else ""
            )
            text = " ".join(w.text for w in words.get((c.row, c.col), []))
            parts.append(f"<td{span}>{escape(text)}</td>")
        parts.append("</tr>")
        if r == heads - 1:
            parts.append("</thead>")
    parts.append("</tbody></table>" if table.rows > heads else "</table>")  # type: ignore[attr-defined]
    return "".join(parts)


# ------------------------------------------------------------------------------- adjacency
Pair = tuple[int, int, str]  # (from, to, "R" | "B")


def predicted_pairs(table: object, filled: set[tuple[int, int]]) -> set[tuple[tuple[int, int], tuple[int, int], str]]:
    """Neighbour pairs of non-empty cells in a predicted grid: for each cell, the nearest non-empty cells
    to its right sharing a row with it, and below sharing a column."""
    cells = [c for c in table.cells if (c.row, c.col) in filled]  # type: ignore[attr-defined]
    out = set()
    for a in cells:
        a_rows = set(range(a.row, a.row + a.row_span))
        a_cols = set(range(a.col, a.col + a.col_span))
        right = [b for b in cells if b.col >= a.col + a.col_span and a_rows & set(range(b.row, b.row + b.row_span))]
        below = [b for b in cells if b.row >= a.row + a.row_span and a_cols & set(range(b.col, b.col + b.col_span))]
        for group, key, tag in ((right, "col", "R"), (below, "row", "B")):
            if not group:
                continue
            near = min(getattr(b, key) for b in group)
            out |= {((a.row, a.col), (b.row, b.col), tag) for b in group if getattr(b, key) == near}
    return out


def adjacency_counts(
    gt_pairs: set[Pair],
    gt_of_word: list[int | None],
    pred_of_word: list[tuple[int, tuple[int, int]] | None],
    pred_pairs: set[tuple[tuple[int, tuple[int, int]], tuple[int, tuple[int, int]], str]],
) -> tuple[int, int, int, int]:
    """(true pairs found, predicted pairs right, predicted, true) relation counts for one page: words
    link ground-truth cells to predicted cells (``pred_of_word``: (table index, (row, col)) or None)."""
    votes: dict[int, dict[tuple[int, tuple[int, int]], int]] = {}
    for g, p in zip(gt_of_word, pred_of_word, strict=True):
        if g is not None and p is not None:
            votes.setdefault(g, {}).setdefault(p, 0)
            votes[g][p] += 1
    mapped = {g: max(v, key=lambda k: v[k]) for g, v in votes.items()}
    found = 0
    for i, j, d in gt_pairs:
        if i in mapped and j in mapped and (mapped[i], mapped[j], d) in pred_pairs:
            found += 1
    back = {(mapped[i], mapped[j], d) for i, j, d in gt_pairs if i in mapped and j in mapped}
    right = len(pred_pairs & back)
    return found, right, len(pred_pairs), len(gt_pairs)


def f1(found: int, right: int, predicted: int, true: int) -> tuple[float, float, float]:
    """(precision, recall, F1) from ``adjacency_counts`` (summed over pages for the micro average)."""
    p = right / predicted if predicted else 0.0
    r = found / true if true else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
