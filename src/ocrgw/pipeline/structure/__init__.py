"""Worker side, after a page is read: document structure beyond lines. ``tables`` finds tables and
their cells (rules.py reads ruling lines and word alignment, models.py runs the structure and layout
models whose weights ship in their wheels)."""
