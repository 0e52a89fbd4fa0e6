"""Languages: every vendor's language codes -> Tesseract model names, and which models this machine has.
The one resolver for every dialect: a dialect names its vendor's vocabulary (data: a ``Vocabulary``) and
``jobs.service.accept`` resolves the codes the caller sent with it, in a thread (the installed models are
a directory listing). A code we know but whose model is missing is an error at submit time."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.settings import Settings

# BCP-47 (lower-cased) -> Tesseract traineddata name. Covers Azure Read's print languages that
# Tesseract has a model for, plus widely used ones Azure added later.
BCP47_TO_TESSERACT: dict[str, str] = {
    "af": "afr",
    "ar": "ara",
    "az": "aze",
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "br": "bre",
    "bs": "bos",
    "ca": "cat",
    "ceb": "ceb",
    "co": "cos",
    "cs": "ces",
    "cy": "cym",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "eo": "epo",
    "es": "spa",
    "et": "est",
    "eu": "eus",
    "fa": "fas",
    "fi": "fin",
    "fil": "fil",
    "fo": "fao",
    "fr": "fra",
    "fy": "fry",
    "ga": "gle",
    "gd": "gla",
    "gl": "glg",
    "gu": "guj",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "ht": "hat",
    "hu": "hun",
    "hy": "hye",
    "id": "ind",
    "is": "isl",
    "it": "ita",
    "iu": "iku",
    "ja": "jpn",
    "jv": "jav",
    "ka": "kat",
    "kk": "kaz",
    "km": "khm",
    "kn": "kan",
    "ko": "kor",
    "ku": "kmr",
    "ky": "kir",
    "la": "lat",
    "lb": "ltz",
    "lo": "lao",
    "lt": "lit",
    "lv": "lav",
    "mi": "mri",
    "mk": "mkd",
    "ml": "mal",
    "mn": "mon",
    "mr": "mar",
    "ms": "msa",
    "mt": "mlt",
    "my": "mya",
    "ne": "nep",
    "nl": "nld",
    "no": "nor",
    "nb": "nor",
    "oc": "oci",
    "pa": "pan",
    "pl": "pol",
    "ps": "pus",
    "pt": "por",
    "qu": "que",
    "ro": "ron",
    "ru": "rus",
    "sk": "slk",
    "sl": "slv",
    "sq": "sqi",
    "sr": "srp",
    "sr-latn": "srp_latn",
    "sv": "swe",
    "sw": "swa",
    "ta": "tam",
    "te": "tel",
    "tg": "tgk",
    "th": "tha",
    "tl": "tgl",
    "to": "ton",
    "tr": "tur",
    "tt": "tat",
    "ug": "uig",
    "uk": "ukr",
    "ur": "urd",
    "uz": "uzb",
    "vi": "vie",
    "yi": "yid",
    "yo": "yor",
    "zh-hans": "chi_sim",
    "zh-hant": "chi_tra",
    "zh-cn": "chi_sim",
    "zh-tw": "chi_tra",
    "zh": "chi_sim",
}

_CACHE_SECONDS = 30.0
_cache: tuple[float, Path, frozenset[str]] | None = None
_dirs: dict[tuple[str | None, str | None], tuple[float, Path]] = {}


def installed(tessdata: Path) -> frozenset[str]:
    """Installed Tesseract models (without 'osd'), re-read at most every 30 s so `apt-get install
    tesseract-ocr-deu` takes effect without a restart."""
    global _cache
    now = time.monotonic()
    if _cache is None or _cache[0] < now or _cache[1] != tessdata:
        names = frozenset(p.name.removesuffix(".traineddata") for p in tessdata.glob("*.traineddata")) - {"osd"}
        _cache = (now + _CACHE_SECONDS, tessdata, names)
    return _cache[2]


def _dir_key(settings: Settings) -> tuple[str | None, str | None]:
    return (str(settings.tessdata_dir) if settings.tessdata_dir else None, os.environ.get("TESSDATA_PREFIX"))


def tessdata_dir(settings: Settings) -> Path:
    """``settings.resolved_tessdata_dir``, found again at most every 30 s: finding it lists the candidate
    folders, which every submit that named a language used to do."""
    now = time.monotonic()
    hit = _dirs.get(_dir_key(settings))
    if hit is None or hit[0] < now:
        hit = _dirs[_dir_key(settings)] = (now + _CACHE_SECONDS, settings.resolved_tessdata_dir)
    return hit[1]


def cached(settings: Settings) -> bool:
    """Whether resolving languages now reads nothing from disk (both caches are current), so that it may
    run on the event loop; else it belongs in a thread."""
    now = time.monotonic()
    hit = _dirs.get(_dir_key(settings))
    return hit is not None and hit[0] >= now and _cache is not None and _cache[0] >= now and _cache[1] == hit[1]


def canonical_bcp47(code: str) -> str:
    """`zh-hans` -> `zh-Hans`, `sr-latn` -> `sr-Latn`: the casing Azure documents."""
    base, _, rest = code.partition("-")
    if not rest:
        return base
    if len(rest) == 4:  # a script subtag: title case
        return f"{base}-{rest.title()}"
    return f"{base}-{rest.upper()}"  # a region subtag


def resolve_many(codes: str, tessdata: Path) -> tuple[str, ...]:
    """Several BCP-47 codes at once (`de,en` or `de+en`) -> Tesseract models in that order, deduplicated."""
    models: list[str] = []
    for code in codes.replace("+", ",").split(","):
        if code.strip():
            model = resolve_bcp47(code, tessdata)
            if model not in models:
                models.append(model)
    if not models:
        raise OcrgwError(ErrorCode.UNSUPPORTED_LANGUAGE, "The language parameter is empty.", param="language")
    return tuple(models)


def default_models(setting: str, tessdata: Path) -> tuple[str, ...]:
    """The configured default (`eng`, `eng+deu`) as model names, each checked to be installed."""
    models = tuple(m for m in setting.replace(",", "+").split("+") if m)
    missing = [m for m in models if m not in installed(tessdata)]
    if missing:
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"The default language model(s) {', '.join(missing)} are not installed "
            f"(apt-get install {' '.join(debian_package(m) for m in missing)}).",
            param="language",
        )
    return models


def offered(settings: Settings) -> dict[str, list[str]]:
    """Each installed model (sorted) with the BCP-47 codes that select it, in Azure's casing: what a
    client may ask this server for. Blocking (it may list the tessdata directory)."""
    codes: dict[str, set[str]] = {}
    for code, model in BCP47_TO_TESSERACT.items():
        codes.setdefault(model, set()).add(canonical_bcp47(code))
    return {m: sorted(codes.get(m, ())) for m in sorted(installed(tessdata_dir(settings)))}


def debian_package(model: str) -> str:
    return "tesseract-ocr-" + model.replace("_", "-").lower()


def resolve_bcp47(code: str, tessdata: Path) -> str:
    """Tesseract model for a BCP-47 code; NotSupportedLanguage if unknown or not installed."""
    key = code.strip().lower()
    model = BCP47_TO_TESSERACT.get(key) or BCP47_TO_TESSERACT.get(key.split("-", 1)[0])
    if model is None:
        raise OcrgwError(ErrorCode.UNSUPPORTED_LANGUAGE, f"The language {code!r} is not supported.", param="language")
    if model not in installed(tessdata):
        raise OcrgwError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"The language {code!r} needs the Tesseract model {model!r}, which is not installed on this "
            f"server (Debian/Ubuntu: apt-get install {debian_package(model)}).",
            param="language",
        )
    return model


# ----------------------------------------------------------------------------------------- vocabularies
@dataclass(frozen=True, slots=True)
class Vocabulary:
    """How one vendor API names languages. ``codes`` are the vendor's own (lower-case) codes; with
    ``bcp47`` BCP-47 codes are understood through ``BCP47_TO_TESSERACT``, with ``model_names`` Tesseract's
    own names (``deu``, ``chi_sim``) as they are. A code in ``auto``, or none at all, means the server's
    default languages, or ``default`` where those models are installed (Huawei reads Chinese and English
    unless told otherwise). With ``detect`` (APIs whose vendor identifies the language itself, as Azure's
    do) it also means: identify each page's language and read it with that language's model
    (``pipeline.langdetect``); an API whose vendor documents a fixed default language (OCR.space's
    `eng`) keeps it. ``param`` and ``prefix`` make the error say what the vendor's would."""

    codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    bcp47: bool = False
    model_names: bool = False
    several: bool = True  # `de,en` or `de+en`
    auto: frozenset[str] = frozenset({"auto"})
    default: tuple[str, ...] = ()
    detect: bool = False
    param: str = "language"
    prefix: str = ""

    def ask(self, codes: str | None) -> Ask:
        return Ask(codes, self)


@dataclass(frozen=True, slots=True)
class Ask:
    """Languages as a caller sent them, still in its vendor's words; ``resolve`` turns them into models."""

    codes: str | None
    vocabulary: Vocabulary

    @property
    def given(self) -> bool:
        """Whether the caller named a language (``auto`` and an empty value name none)."""
        text = (self.codes or "").strip()
        return bool(text) and text.lower() not in self.vocabulary.auto

    @property
    def detect(self) -> bool:
        """No language given where the vendor's API identifies it: the worker identifies each page's."""
        return self.vocabulary.detect and not self.given


BCP47 = Vocabulary(bcp47=True)


def _error(vocab: Vocabulary, message: str) -> OcrgwError:
    return OcrgwError(ErrorCode.UNSUPPORTED_LANGUAGE, vocab.prefix + message, param=vocab.param)


def _models_of(code: str, vocab: Vocabulary, have: frozenset[str]) -> tuple[str, ...]:
    key = code.lower()
    if key in vocab.codes:
        return vocab.codes[key]
    if vocab.model_names and (code in have or code in _KNOWN_MODELS):
        return (code,)
    if vocab.bcp47:
        model = BCP47_TO_TESSERACT.get(key) or BCP47_TO_TESSERACT.get(key.split("-", 1)[0])
        if model is not None:
            return (model,)
    valid = f" Valid values: auto, {', '.join(sorted(vocab.codes))}." if vocab.codes and not vocab.bcp47 else ""
    raise _error(vocab, f"The language {code!r} is not supported.{valid}")


def resolve(ask: Ask, settings: Settings) -> tuple[str, ...]:
    """The Tesseract models for what the caller asked, in its order, each installed; blocking (it may
    list the tessdata directory), so the API process calls it in a thread."""
    vocab, tessdata = ask.vocabulary, tessdata_dir(settings)
    text = (ask.codes or "").strip()
    have = installed(tessdata)
    if not ask.given:
        preferred = tuple(m for m in vocab.default if m in have)
        if preferred and preferred != ("eng",):
            return preferred
        return default_models(settings.default_language, tessdata)
    parts = text.replace("+", ",").split(",") if vocab.several else [text]
    models: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        found = _models_of(part, vocab, have)
        missing = [m for m in found if m not in have]
        if missing:
            raise _error(
                vocab,
                f"The language {part!r} needs the Tesseract model(s) {', '.join(missing)}, which are not "
                f"installed on this server (Debian/Ubuntu: apt-get install "
                f"{' '.join(map(debian_package, missing))}).",
            )
        models.extend(m for m in found if m not in models)
    if not models:
        raise _error(vocab, f"The {vocab.param} parameter is empty.")
    return tuple(models)


_KNOWN_MODELS = frozenset(BCP47_TO_TESSERACT.values())
