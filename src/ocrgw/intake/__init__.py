"""Intake: request bodies (raw or chunked streams, URL sources) -> a stored, sniffed, size-checked blob.
Runs in the API process, so it streams, never decodes pixels, and pushes header parsing to a thread."""

from ocrgw.intake.core import body, from_stream, from_url, key_within, read_capped

__all__ = ["body", "from_stream", "from_url", "key_within", "read_capped"]
