"""Renders a JobView as Huawei Cloud OCR's `result`: general-text's `words_block_list` (one block per line,
`location` as four integer [x, y] points clockwise from top-left, pixels also for PDF pages), `direction`,
`char_list` and `markdown_result` when asked; passport fields from the worker's MRZ reading. Pure functions."""

from __future__ import annotations

from typing import Any

from ocrgw.dialects.huawei.errors import HuaweiError
from ocrgw.dialects.huawei.parse import boolean
from ocrgw.errors import ErrorCode
from ocrgw.jobs.schemas import JobView, LineResult
from ocrgw.render.geometry import corners, pixel_scale
from ocrgw.settings import Settings

# MRZ field -> Huawei passport field.
# fmt: off
PASSPORT_FIELDS = {
    "document_type": "passport_type", "country_code": "country_code", "document_number": "passport_number",
    "nationality": "nationality", "surname": "surname", "given_names": "given_name", "sex": "sex",
    "date_of_birth": "date_of_birth", "date_of_expiry": "date_of_expiry",
}
# fmt: on


def _char_list(line: LineResult, k: float) -> list[dict]:
    """Character boxes, which Tesseract's word-level result does not have: each word's quad is divided
    evenly among its characters, so they are estimates, and every character gets its word's confidence."""

    def at(p: tuple[float, float], q: tuple[float, float], t: float) -> list[int]:
        return [round((p[0] + (q[0] - p[0]) * t) * k), round((p[1] + (q[1] - p[1]) * t) * k)]

    chars = []
    for word in line.words:
        n = len(word.text)
        tl, tr, br, bl = ((word.bbox[i], word.bbox[i + 1]) for i in range(0, 8, 2))
        for i, ch in enumerate(word.text):
            a, b = i / n, (i + 1) / n
            location = [at(tl, tr, a), at(tl, tr, b), at(bl, br, b), at(bl, br, a)]
            chars.append({"char": ch, "char_location": location, "char_confidence": word.confidence})
    return chars


def render_general_text(view: JobView, data: dict[str, Any], settings: Settings) -> dict:
    """`data`: the request's JSON, whose flags say what to add."""
    page = view.pages[0] if view.pages else None
    lines = page.lines if page else []
    k = pixel_scale(page, settings.pdf_dpi) if page else 1.0
    character_mode = boolean(data, "character_mode")
    blocks = []
    for line in lines:
        # Our quads are TL, TR, BR, BL already: Huawei's clockwise-from-top-left order.
        location = [list(point) for point in corners(line.bbox, k)]
        block: dict[str, Any] = {"words": line.text, "confidence": line.confidence, "location": location}
        if character_mode:
            block["char_list"] = _char_list(line, k)
        blocks.append(block)
    result: dict[str, Any] = {
        "direction": float((-page.angle) % 360) if page and boolean(data, "detect_direction") else -1,
        "words_block_count": len(blocks),
        "words_block_list": blocks,
    }
    if boolean(data, "return_markdown_result"):
        result["markdown_result"] = "\n".join(line.text for line in lines)
    return result


def render_passport(view: JobView) -> dict:
    mrz = (view.analysis or {}).get("mrz") or {}
    if not mrz.get("lines"):
        raise HuaweiError(
            ErrorCode.PROCESSING_FAILED,
            "AIS.0104",
            "The image is not supported or the image quality is poor: no machine-readable zone "
            "(the two or three lines of `<`-filled text at the foot of the data page) was found.",
        )
    result: dict[str, Any] = {theirs: mrz.get(ours, "") for ours, theirs in PASSPORT_FIELDS.items()}
    confidence = mrz.get("confidence") or {}
    result["confidence"] = {theirs: confidence[ours] for ours, theirs in PASSPORT_FIELDS.items() if ours in confidence}
    # Huawei keeps local-language text here; for MRZ-only passports it is {} there. The check digits go here,
    # because the SDK's PassportResult drops keys it does not model, and a caller must be able to see them.
    result["extra_info"] = {
        "mrz_format": mrz.get("format"),
        "mrz_lines": mrz.get("lines"),
        "check_digits": mrz.get("checks"),
        "check_digits_valid": mrz.get("valid"),
        "optional_data": mrz.get("optional_data", ""),
    }
    result["machine_code"] = "".join(mrz["lines"])
    return result
