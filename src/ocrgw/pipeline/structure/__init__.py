"""Worker side, after reading order: the page's structure beyond lines and words, for Document
Intelligence's ``prebuilt-layout`` and the native API's ``layout``: ``marks`` (checkboxes), ``paragraphs``
(paragraphs and their roles), ``tables`` (tables and their cells: rules.py reads ruling lines and word
alignment, models.py runs the structure and layout models whose weights ship in their wheels), and
``compose``, which puts the three together for a page."""
