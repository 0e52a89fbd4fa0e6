"""Azure dialects: Read v3.x (router.py), v2.1 Batch Read (v21.py), Image Analysis 4.0 (imageanalysis.py)
and Form Recognizer / Document Intelligence prebuilt-read (docintel.py). Contract: shared/contracts/azure.md."""
