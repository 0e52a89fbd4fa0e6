"""Worker side, MRZ reading (see the package docstring), last step: a zone's lines, as the reader settled
them, become the result the runner stores under JobView.analysis["mrz"]. Fields are sliced where the
format keeps them, check digits decide validity (a failed check lowers its fields' confidence, it never
changes a value), and _score ranks several readings of one zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ocrgw.pipeline.mrz.codes import _TEMPLATES, _check_ok

_LOWERED = 0.5  # confidence factor of a field whose own check digit fails
_COMPOSITE_LOWERED = 0.75  # ... of the fields the composite covers when only the composite fails
_MIN_PLAUSIBLE = 0.75  # share of positions whose read character has the class the format requires


@dataclass
class _Line:
    """One line of a zone as read: a character and a confidence per position."""

    text: str  # exactly the format's length
    conf: list[float]  # per position, 0..1


@dataclass
class _Reading:
    """A zone's lines in one format, with every change made to what the engine read."""

    fmt: str
    lines: list[_Line]
    fixes: list[dict] = field(default_factory=list)


def _plausibility(fmt: str, texts: list[str]) -> float:
    """Share of positions whose character has the class the format requires, before any substitution:
    what tells an MRZ from an ordinary text line read through the same whitelist."""
    good = total = 0
    for text, template in zip(texts, _TEMPLATES[fmt], strict=True):
        for ch, cls in zip(text, template, strict=True):
            total += 1
            if cls == "D":
                good += ch.isdigit()
            elif cls == "C":
                good += ch.isdigit() or ch == "<"
            elif cls == "A":
                good += ch.isalpha() or ch == "<"
            elif cls == "S":
                good += ch in "MF<"
            else:
                good += 1
    # Every MRZ has fillers; a paragraph read through the whitelist has almost none.
    fillers = sum(t.count("<") for t in texts)
    return good / max(total, 1) if fillers >= 2 else 0.0


def _name_parts(data: str) -> tuple[str, str]:
    """Surname and given names from the name field: parts split at '<<', words at '<'."""
    surname, _, given = data.partition("<<")
    return " ".join(surname.replace("<", " ").split()), " ".join(given.replace("<", " ").split())


def _iso_date(yymmdd: str, *, birth: bool, today: date | None = None) -> str | None:
    """YYMMDD -> ISO. Birth dates take the century that puts them in the past; expiry dates are 20YY
    unless that is more than 50 years ahead."""
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return None
    today = today or date.today()
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = 2000 + yy
    if (birth and year > today.year) or (not birth and year > today.year + 50):
        year -= 100
    try:
        when = date(year, mm, dd)
    except ValueError:
        return None
    if birth and when > today:
        try:
            when = date(year - 100, mm, dd)
        except ValueError:
            return None
    return when.isoformat()


@dataclass
class _Fields:
    """Where a format keeps each field: the raw slices of the zone's lines (fillers included), their
    check digits, and each field's (line, start, end) spans, over which its confidence is averaged."""

    spans: dict[str, list[tuple[int, int, int]]]
    number: str
    number_cd: str
    birth: str
    birth_cd: str
    sex: str
    expiry: str
    expiry_cd: str
    nationality: str
    names: str
    optional: str
    optional_cd: str | None  # TD2 and TD1 optional data carries no check digit
    optional_2: str | None  # TD1's second optional field
    composite_data: str
    composite_cd: str


def _slice_two_lines(fmt: str, t: list[str]) -> _Fields:
    """TD3 (passport) and TD2: names on the first line, everything else on the second."""
    n = len(t[0])
    l1, l2 = t
    spans = {
        "document_type": [(0, 0, 2)],
        "country_code": [(0, 2, 5)],
        "names": [(0, 5, n)],
        "document_number": [(1, 0, 10)],
        "nationality": [(1, 10, 13)],
        "date_of_birth": [(1, 13, 20)],
        "sex": [(1, 20, 21)],
        "date_of_expiry": [(1, 21, 28)],
        "optional_data": [(1, 28, 43 if fmt == "TD3" else 35)],
    }
    optional_cd: str | None
    if fmt == "TD3":
        optional, optional_cd = l2[28:42], l2[42]
        composite_data, composite_cd = l2[0:10] + l2[13:20] + l2[21:43], l2[43]
    else:
        optional, optional_cd = l2[28:35], None
        composite_data, composite_cd = l2[0:10] + l2[13:20] + l2[21:35], l2[35]
    return _Fields(
        spans=spans,
        number=l2[0:9],
        number_cd=l2[9],
        birth=l2[13:19],
        birth_cd=l2[19],
        sex=l2[20],
        expiry=l2[21:27],
        expiry_cd=l2[27],
        nationality=l2[10:13],
        names=l1[5:],
        optional=optional,
        optional_cd=optional_cd,
        optional_2=None,
        composite_data=composite_data,
        composite_cd=composite_cd,
    )


def _slice_td1(t: list[str]) -> _Fields:
    """TD1 (ID card): code, state, number and optional data; dates, sex, nationality and more optional
    data; names."""
    l1, l2, l3 = t
    spans = {
        "document_type": [(0, 0, 2)],
        "country_code": [(0, 2, 5)],
        "document_number": [(0, 5, 15)],
        "optional_data": [(0, 15, 30)],
        "date_of_birth": [(1, 0, 7)],
        "sex": [(1, 7, 8)],
        "date_of_expiry": [(1, 8, 15)],
        "nationality": [(1, 15, 18)],
        "names": [(2, 0, 30)],
    }
    number, number_cd, optional = l1[5:14], l1[14], l1[15:30]
    if number_cd == "<" and optional.strip("<"):
        # A document number longer than 9 characters continues in the optional data, its check
        # digit after the continuation (ICAO 9303-5, 4.2.2 note j).
        rest = optional.split("<", 1)[0]
        number, number_cd = number + rest[:-1], rest[-1:]
        optional = optional[len(rest) :]
    return _Fields(
        spans=spans,
        number=number,
        number_cd=number_cd,
        birth=l2[0:6],
        birth_cd=l2[6],
        sex=l2[7],
        expiry=l2[8:14],
        expiry_cd=l2[14],
        nationality=l2[15:18],
        names=l3,
        optional=optional,
        optional_cd=None,
        optional_2=l2[18:29],
        composite_data=l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29],
        composite_cd=l2[29],
    )


def _checks(f: _Fields) -> dict[str, bool | None]:
    """Each check digit's verdict; None where the format has no such check."""
    return {
        "document_number": _check_ok(f.number, f.number_cd),
        "date_of_birth": _check_ok(f.birth, f.birth_cd),
        "date_of_expiry": _check_ok(f.expiry, f.expiry_cd),
        "optional_data": None if f.optional_cd is None else _check_ok(f.optional, f.optional_cd, may_be_empty=True),
        "composite": _check_ok(f.composite_data, f.composite_cd),
    }


def _confidences(
    spans: dict[str, list[tuple[int, int, int]]], c: list[list[float]], checks: dict[str, bool | None]
) -> dict[str, float]:
    """Each field's mean per-character confidence, lowered where a check digit says it is wrong."""

    def mean_conf(key: str) -> float:
        vals = [v for li, a, b in spans[key] for v in c[li][a:b]]
        return float(np.mean(vals)) if vals else 0.0

    confidence = {
        "document_type": mean_conf("document_type"),
        "country_code": mean_conf("country_code"),
        "document_number": mean_conf("document_number"),
        "surname": mean_conf("names"),
        "given_names": mean_conf("names"),
        "nationality": mean_conf("nationality"),
        "sex": mean_conf("sex"),
        "date_of_birth": mean_conf("date_of_birth"),
        "date_of_expiry": mean_conf("date_of_expiry"),
        "optional_data": mean_conf("optional_data"),
    }
    own_checks = ("document_number", "date_of_birth", "date_of_expiry", "optional_data")
    for key in own_checks:
        if checks[key] is False:
            confidence[key] *= _LOWERED
    if checks["composite"] is False and all(checks[k] is not False for k in own_checks):
        for key in own_checks:  # one of the covered fields is wrong, and no own check says which
            confidence[key] *= _COMPOSITE_LOWERED
    return confidence


def _parse(reading: _Reading) -> dict:
    """The zone's fields, check verdicts and per-field confidence, as the runner stores them."""
    fmt = reading.fmt
    t = [ln.text for ln in reading.lines]
    f = _slice_two_lines(fmt, t) if fmt in ("TD3", "TD2") else _slice_td1(t)
    checks = _checks(f)
    surname, given = _name_parts(f.names)
    confidence = _confidences(f.spans, [ln.conf for ln in reading.lines], checks)
    failed = [k for k, ok in checks.items() if ok is False]
    result = {
        "format": fmt,
        "lines": t,
        "document_type": t[0][0:2].replace("<", ""),
        "country_code": t[0][2:5].replace("<", ""),
        "document_number": f.number.replace("<", ""),
        "surname": surname,
        "given_names": given,
        "nationality": f.nationality.replace("<", ""),
        "sex": f.sex if f.sex in ("M", "F") else "X",
        "date_of_birth": _iso_date(f.birth, birth=True),
        "date_of_expiry": _iso_date(f.expiry, birth=False),
        "optional_data": f.optional.rstrip("<").lstrip("<"),
        "checks": checks,
        "valid": not failed,
        "failed_checks": failed,
        "confidence": {k: round(v, 4) for k, v in confidence.items()},
        "fixes": reading.fixes,
    }
    if f.optional_2 is not None:
        result["optional_data_2"] = f.optional_2.strip("<")
    return result


def _score(result: dict, plausibility: float) -> tuple[int, float, float]:
    """Which of several readings of the same zone to keep: most checks passed, then the most
    format-like characters, then Tesseract's own confidence."""
    passed = sum(1 for ok in result["checks"].values() if ok)
    conf = float(np.mean(list(result["confidence"].values())))
    return passed, plausibility, conf
