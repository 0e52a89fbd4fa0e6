"""Page selections (`1,3-5`, `3-`, `-2`): parsed once at submit, applied by the worker before any page is
rendered. Vendor-neutral; dialects turn a parse failure into their own error code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ocrgw.errors import ErrorCode, OcrgwError

_ITEM = re.compile(r"^\s*(?:(\d+)|(\d+)\s*-\s*(\d+)|(\d+)\s*-|-\s*(\d+))\s*$")

Range = tuple[int | None, int | None]


@dataclass(frozen=True, slots=True)
class PageSelection:
    ranges: tuple[Range, ...] | None = None  # None: every page

    @classmethod
    def parse(cls, text: str | None) -> PageSelection:
        if text is None or not text.strip():
            return cls(None)
        ranges: list[Range] = []
        for item in text.split(","):
            m = _ITEM.match(item)
            if not m:
                raise OcrgwError(ErrorCode.INVALID_PAGE_RANGE, f"Invalid page range {text!r}.", param="pages")
            single, a, b, open_a, upto = m.groups()
            if single:
                lo = hi = int(single)
            elif a:
                lo, hi = int(a), int(b)
            elif open_a:
                lo, hi = int(open_a), None
            else:
                lo, hi = 1, int(upto)
            if lo < 1 or (hi is not None and hi < lo):
                raise OcrgwError(ErrorCode.INVALID_PAGE_RANGE, f"Invalid page range {text!r}.", param="pages")
            ranges.append((lo, hi))
        return cls(tuple(ranges))

    def numbers(self, total: int) -> Iterator[int]:
        """Selected page numbers that exist in a document of ``total`` pages, ascending, once each."""
        if self.ranges is None:
            yield from range(1, total + 1)
            return
        chosen: set[int] = set()
        for lo, hi in self.ranges:
            chosen.update(range(lo or 1, min(hi or total, total) + 1))
        yield from sorted(chosen)

    def count(self, total: int) -> int:
        return sum(1 for _ in self.numbers(total))
