"""Worker side, MRZ reading (see the package docstring): the facts of ICAO 9303 that the other modules
read against. Each format's line count and length and the character class of every position, the
alphabets and OCR-B look-alike glyphs, the valid issuing-state/nationality and document codes, and the
check-digit arithmetic that decides a reading's validity (parse.py applies it to a whole zone)."""

from __future__ import annotations

WHITELIST = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"
# (lines, characters per line) of each ICAO 9303 format.
FORMATS = {"TD3": (2, 44), "TD2": (2, 36), "TD1": (3, 30)}

# Character class per position: A = letter or filler, D = digit, C = check digit (or filler where an
# unused field allows it), S = sex (M, F or filler), X = anything.
_TEMPLATES = {
    "TD3": ("AA" + "AAA" + "A" * 39, "X" * 9 + "C" + "AAA" + "D" * 6 + "C" + "S" + "D" * 6 + "C" + "X" * 14 + "CC"),
    "TD2": ("AA" + "AAA" + "A" * 31, "X" * 9 + "C" + "AAA" + "D" * 6 + "C" + "S" + "D" * 6 + "C" + "X" * 7 + "C"),
    "TD1": ("AAAAA" + "X" * 9 + "C" + "X" * 15, "D" * 6 + "C" + "S" + "D" * 6 + "C" + "AAA" + "X" * 11 + "C", "A" * 30),
}
_CLASS = {"A": "A", "D": "D", "C": "D", "S": "S", "X": "X"}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS = "0123456789"
_ALPHABET = {"A": _LETTERS, "D": _DIGITS, "S": "MF", "X": _LETTERS + _DIGITS}
# Glyph pairs the engine confuses in OCR-B; in a free (alphanumeric) cell only the glyph's height can
# tell them apart (see MrzReader._by_height).
_LOOKALIKE = {
    "O": "0",
    "Q": "0",
    "D": "0",
    "I": "1",
    "Z": "2",
    "S": "5",
    "G": "6",
    "B": "8",
    "0": "O",
    "1": "I",
    "2": "Z",
    "5": "S",
    "6": "G",
    "8": "B",
}
_CONFUSABLE = "".join(_LOOKALIKE)
# ICAO 9303-3 codes of issuing states and nationalities: ISO 3166-1 alpha-3, Germany's D, the
# United Kingdom's other nationality categories, UN and EU documents, refugees and stateless persons
# (XXA/XXB/XXC/XXX), Kosovo, international organisations (X..), and the specimen state Utopia.
_ICAO_CODES = frozenset(
    """
ABW AFG AGO AIA ALA ALB AND ARE ARG ARM ASM ATA ATF ATG AUS AUT AZE BDI BEL BEN BES BFA BGD BGR BHR BHS
BIH BLM BLR BLZ BMU BOL BRA BRB BRN BTN BVT BWA CAF CAN CCK CHE CHL CHN CIV CMR COD COG COK COL COM CPV
CRI CUB CUW CXR CYM CYP CZE DEU DJI DMA DNK DOM DZA ECU EGY ERI ESH ESP EST ETH FIN FJI FLK FRA FRO FSM
GAB GBR GEO GGY GHA GIB GIN GLP GMB GNB GNQ GRC GRD GRL GTM GUF GUM GUY HKG HMD HND HRV HTI HUN IDN IMN
IND IOT IRL IRN IRQ ISL ISR ITA JAM JEY JOR JPN KAZ KEN KGZ KHM KIR KNA KOR KWT LAO LBN LBR LBY LCA LIE
LKA LSO LTU LUX LVA MAC MAF MAR MCO MDA MDG MDV MEX MHL MKD MLI MLT MMR MNE MNG MNP MOZ MRT MSR MTQ MUS
MWI MYS MYT NAM NCL NER NFK NGA NIC NIU NLD NOR NPL NRU NZL OMN PAK PAN PCN PER PHL PLW PNG POL PRI PRK
PRT PRY PSE PYF QAT REU ROU RUS RWA SAU SDN SEN SGP SGS SHN SJM SLB SLE SLV SMR SOM SPM SRB SSD STP SUR
SVK SVN SWE SWZ SXM SYC SYR TCA TCD TGO THA TJK TKL TKM TLS TON TTO TUN TUR TUV TWN TZA UGA UKR UMI URY
USA UZB VAT VCT VEN VGB VIR VNM VUT WLF WSM YEM ZAF ZMB ZWE
D<< GBD GBN GBO GBP GBS UNO UNA UNK EUE XXA XXB XXC XXX RKS ANT NTZ UTO
XBA XIM XCC XCE XCO XEC XPO XES XMP XOM XDC
""".split()  # noqa: SIM905 (a list literal of 270 quoted codes reads worse)
)
# The first letter of a document code (ICAO 9303-4/5/6): passport, ID card, and the A, C and V types.
_DOCUMENT_TYPES = "PIACV"
# OCR-B capitals the engine takes for one another: the alternatives tried when a code is not valid.
_LETTER_LOOKALIKES = {
    "P": "RFDEB",
    "R": "PBK",
    "E": "FBPL",
    "F": "EP",
    "B": "PRED",
    "O": "DQCU",
    "D": "OPB",
    "Q": "O",
    "C": "GOL",
    "G": "CO",
    "I": "LTJ",
    "L": "ICE",
    "T": "IY",
    "J": "I",
    "U": "VO",
    "V": "UY",
    "M": "NH",
    "N": "MH",
    "H": "NM",
    "K": "XR",
    "X": "KY",
    "Y": "VTX",
    "A": "",
    "S": "",
    "W": "",
    "Z": "",
}
_OTHER_CLASS = {"A": _DIGITS, "D": _LETTERS, "S": _DIGITS + _LETTERS.replace("M", "").replace("F", "")}


def check_digit(data: str) -> str:
    """ICAO 9303 check digit: weights 7, 3, 1 repeating over values 0-9, A-Z = 10-35, '<' = 0."""
    total = 0
    for i, ch in enumerate(data):
        if ch.isdigit():
            value = int(ch)
        elif "A" <= ch <= "Z":
            value = ord(ch) - ord("A") + 10
        elif ch == "<":
            value = 0
        else:
            raise ValueError(f"not an MRZ character: {ch!r}")
        total += value * (7, 3, 1)[i % 3]
    return str(total % 10)


def _check_ok(data: str, digit: str, *, may_be_empty: bool = False) -> bool:
    """Whether `digit` is the check digit of `data` as read (False for anything not an MRZ character)."""
    if any(ch not in WHITELIST for ch in data + digit):
        return False
    if may_be_empty and data.strip("<") == "" and digit in ("<", "0"):
        return True  # an unused optional field may carry a filler instead of its check digit
    return digit.isdigit() and check_digit(data) == digit


def _valid_code(name: str, value: str) -> bool:
    """Whether a document code (first letter only) or an issuing state or nationality is one ICAO allows."""
    return value[:1] in _DOCUMENT_TYPES if name == "document_type" else value in _ICAO_CODES
