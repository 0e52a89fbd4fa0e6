"""ocrgw: a self-hosted OCR gateway that speaks the cloud vendors' OCR APIs over one job core."""

__version__ = "0.1.0"
