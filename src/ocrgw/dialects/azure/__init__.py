"""Azure dialects: Read v3.x (read/), v2.1 Batch Read (v21/), Image Analysis 4.0 (imageanalysis/) and Form
Recognizer / Document Intelligence (docintel/); what they share (key, languages, image body, formats) is
shared.py, Azure's error envelope errors.py. Contract: shared/contracts/azure.md."""

from __future__ import annotations

from ocrgw.dialects.azure import docintel, imageanalysis, read, v21

READ = read.DIALECT
DIALECTS = (read.DIALECT, v21.DIALECT, imageanalysis.DIALECT, docintel.DIALECT)
