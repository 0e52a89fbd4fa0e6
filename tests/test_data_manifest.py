"""The documents of tests/data stay what their manifest and README say: every document has a manifest row
and a provenance line, every row's file is there, and every ground-truth box lies inside its image."""

from __future__ import annotations

from PIL import Image

from tests.conftest import TEST_DATA, manifest

# other folders hold fixtures of other kinds
DOCUMENT_DIRS = ("page", "multicol", "line", "receipt", "form", "note", "table")


def test_every_document_has_a_row_a_readme_line_and_boxes_inside_it() -> None:
    rows = manifest()
    files = {p.relative_to(TEST_DATA).as_posix() for d in DOCUMENT_DIRS for p in (TEST_DATA / d).glob("*")}
    assert files == set(rows), "tests/data and manifest.jsonl disagree"
    readme = (TEST_DATA / "README.md").read_text()
    for name, row in rows.items():
        assert f"`{name}`" in readme, f"{name} has no provenance line in tests/data/README.md"
        assert row["text"].strip() and row["source"] and row["license"], name
        with Image.open(TEST_DATA / name) as im:
            width, height = im.size
        for line in row["lines"]:
            x0, y0, x1, y1 = line["bbox"]
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (name, line)
            assert line["text"].strip(), (name, line)
