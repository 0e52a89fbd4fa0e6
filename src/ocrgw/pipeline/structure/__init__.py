"""Worker side, after reading order: the page's structure beyond lines and words (selection marks,
paragraphs with their roles, tables) for Document Intelligence's ``prebuilt-layout``."""
