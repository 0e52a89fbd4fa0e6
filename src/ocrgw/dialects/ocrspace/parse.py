"""OCR.space requests -> an Order for the job core. Parameters come from the query, form fields or an
urlencoded body (names in any case) and are checked as OCR.space checks them (an unknown name is an error);
the language is one of OCR.space's own codes. The document is exactly one of a file part (any name), `url`
or `base64Image` (a data URI), and the key may come in a header, the query or a form field after the file,
so the request is read as one Source (``Call``) whose owner and order are known once its body is."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from python_multipart.multipart import parse_options_header
from starlette.requests import Request

from ocrgw import intake, languages
from ocrgw.auth import KeyResolver, Principal
from ocrgw.dialects.ocrspace.errors import VALID_PARAMETERS, OcrSpaceError, invalid_parameter_name, invalid_value
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.formats import ImageLimits
from ocrgw.intake import jsonbody, multipart, urlencoded
from ocrgw.intake.sources import FormSource, UrlSource
from ocrgw.jobs.schemas import JobSpec, Mode, StoredBlob
from ocrgw.jobs.service import Order
from ocrgw.settings import Settings
from ocrgw.storage import BlobStore

PARAMETERS = frozenset(VALID_PARAMETERS.split(","))
# OCR.space language codes -> Tesseract models (engine 1 list, `nor`, and engine 3's extras); one code a
# request, `eng` when none is sent.
# fmt: off
_MODELS = {
    "ara": "ara", "bul": "bul", "chs": "chi_sim", "cht": "chi_tra", "hrv": "hrv", "cze": "ces", "dan": "dan",
    "dut": "nld", "eng": "eng", "fin": "fin", "fre": "fra", "ger": "deu", "gre": "ell", "hun": "hun",
    "kor": "kor", "ita": "ita", "jpn": "jpn", "pol": "pol", "por": "por", "rus": "rus", "slv": "slv",
    "spa": "spa", "swe": "swe", "tur": "tur", "nor": "nor", "hin": "hin", "kan": "kan", "per": "fas",
    "tel": "tel", "tam": "tam", "tai": "tha", "vie": "vie",
}
BOOLEANS = (
    "isoverlayrequired", "detectorientation", "iscreatesearchablepdf", "issearchablepdfhidetextlayer", "scale",
    "istable", "detectcheckbox", "addressparsing",
)
# fmt: on
LANGUAGES = languages.Vocabulary(
    codes={code: (model,) for code, model in _MODELS.items()}, several=False, auto=frozenset({"auto"}), prefix="E201: "
)
FILETYPES = frozenset({"PDF", "GIF", "PNG", "JPG", "JPEG", "TIF", "TIFF", "BMP", "WEBP"})
# OCR.space's engines 2 and 3 are its slower, more accurate ones: here the accurate mode (the second
# engine where it reads the language, else Tesseract); engine 1 takes the server's OCRGW_MODE.
ENGINE_MODES: dict[str, Mode | None] = {"1": None, "2": "accurate", "3": "accurate"}
MSG_BAD_BASE64 = (
    "Not a valid base64 image. The accepted base64 image format is 'data:<content_type>;base64,<base64_image_content>'."
)
MSG_NO_SOURCE = "No file uploaded or URL or base64 provided. Send exactly one of: a file, url, base64Image."
MSG_TWO_SOURCES = (
    "More than one source was given: send exactly one of a file, url or base64Image "
    "(for example, an ocrspace.API instance reused after ocr_url/ocr_base64 resends the old one)."
)


# -------------------------------------------------------------------------------------------- params
@dataclass(frozen=True, slots=True)
class Options:
    language: str
    engine: str
    overlay: bool
    orientation: bool
    searchable_pdf: bool
    table: bool


_BOOLS = {"": False, "false": False, "0": False, "true": True, "1": True}


def _bool(params: dict[str, str], name: str) -> bool:
    value = _BOOLS.get(params.get(name, "").strip().lower())
    if value is None:
        raise invalid_value(name, "Use true or false.")
    return value


def parse_options(params: dict[str, str]) -> Options:
    """Names (already lower-cased) and values, checked as OCR.space does: an unknown name is a 99. The
    file type is checked only: the document's own bytes say what it is."""
    for name in params:
        if name not in PARAMETERS:
            raise invalid_parameter_name(name)
    flags = {name: _bool(params, name) for name in BOOLEANS}
    engine = params.get("ocrengine", "").strip() or "1"
    if engine not in ENGINE_MODES:
        raise invalid_value("OCREngine", "Valid values: 1, 2, 3.")
    filetype = params.get("filetype", "").strip().upper()
    if filetype and filetype not in FILETYPES:
        raise invalid_value("filetype", "Valid values: PDF, GIF, PNG, JPG, TIF, BMP.")
    return Options(
        language=params.get("language", "").strip().lower() or "eng",
        engine=engine,
        overlay=flags["isoverlayrequired"],
        orientation=flags["detectorientation"],
        searchable_pdf=flags["iscreatesearchablepdf"],
        table=flags["istable"],
    )


def _bad_base64() -> OcrSpaceError:
    return OcrSpaceError(ErrorCode.INVALID_PARAMETER, MSG_BAD_BASE64, param="base64Image")


def data_uri_source(value: str | jsonbody.Spooled) -> jsonbody.Base64Source:
    """OCR.space takes base64 only as a data URI (`data:<type>;base64,...`); plain base64 is refused. A long
    one was spooled to a file as it arrived, and is decoded from there a block at a time."""
    head, sep, _ = jsonbody.head_of(value).strip().partition(",")
    if not (sep and head.lower().startswith("data:") and head.lower().endswith(";base64")):
        raise _bad_base64()
    return jsonbody.Base64Source(value, invalid=_bad_base64)


# -------------------------------------------------------------------------------------------- the request
def _urlencoded_key(head: bytes) -> bool:
    """Whether an urlencoded body's head holds a whole `apikey` field (one followed by `&`)."""
    complete = head.rpartition(b"&")[0].decode("utf-8", "replace")
    return any(name.lower() == "apikey" for name, _ in parse_qsl(complete, keep_blank_values=True))


@dataclass(slots=True)
class Call:
    """One parse request as the Source ``accept`` stores, with its deferred owner and order. A form's first
    file part is streamed into the store; without one, the document is the `url` or `base64Image`
    parameter, fetched or stored only once the key is known good and the parameters are valid. A bad key
    is told first, also when the upload itself failed."""

    request: Request
    keys: KeyResolver
    principal: Principal | None = None  # from the apikey header, resolved before the body is read
    params: dict[str, str] = field(default_factory=dict)
    files: int = 0
    options: Options | None = None
    image: jsonbody.Spooled | None = None  # a long urlencoded base64Image, in a file

    async def save(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob:
        self.params = {k.lower(): v for k, v in self.request.query_params.multi_items()}
        if "apikey" in self.params:
            await self.owner()  # a key in the query is checked before the body is read
        uploaded = await self._read_body(store, settings, limits) if self.request.method == "POST" else None
        if uploaded is not None:
            return uploaded
        await self.order()  # the key and the parameters before anything is fetched
        url = self._param("url")
        if self._param("base64image") or self.image is not None:
            return await data_uri_source(self.image or self._param("base64image")).save(store, settings, limits)
        if not url.lower().startswith(("http://", "https://")):
            raise invalid_value("url", "Send an http or https URL.")
        return await UrlSource(url).save(store, settings, limits)

    async def _read_body(self, store: BlobStore, settings: Settings, limits: ImageLimits) -> StoredBlob | None:
        """The form's first file, stored (None when it has none), its fields and the urlencoded body's
        added to the parameters."""
        content_type = self.request.headers.get("content-type", "")
        cap = settings.max_upload_bytes * 4 // 3 + multipart.OVERHEAD
        boundary = multipart.boundary_of(content_type)
        keyless = self.principal is None and settings.auth != "off"  # the key can only be in the body
        if boundary is not None:
            form = FormSource(intake.body(self.request, cap), boundary, cap, long=frozenset({"base64image"}))
            if keyless:
                form.chunks = intake.key_within(form.chunks, lambda _: "apikey" in form.form.fields, keep_head=False)
            try:
                return await form.save(store, settings, limits)
            except OcrgwError as exc:
                if exc.code is ErrorCode.EMPTY_BODY and not form.form.files:
                    return None  # no file part: the document is a url or base64Image field
                if "apikey" in form.form.fields:
                    self.params.update(form.form.fields)
                    await self.owner()  # a bad key is told first
                raise
            finally:
                self.params.update(form.form.fields)
                self.files = form.form.files
                self.image = form.form.long.pop("base64image", None)  # the npm wrapper's base64, when long
                for spooled in form.form.long.values():
                    spooled.close()
        ctype = parse_options_header(content_type)[0].lower().decode("latin-1")
        if ctype not in ("application/x-www-form-urlencoded", ""):
            raise OcrSpaceError(
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                f"Unsupported Content-Type '{ctype}': send multipart/form-data or application/x-www-form-urlencoded.",
            )
        chunks = intake.body(self.request, cap)
        if keyless:
            chunks = intake.key_within(chunks, _urlencoded_key, keep_head=True)
        for name, value in (await urlencoded.read(chunks, cap=cap, settings=settings)).items():
            if isinstance(value, str):
                self.params[name] = value
            elif name == "base64image":  # a long one, spooled
                self.image = value
            else:
                value.close()
                raise invalid_value(name, "The value is too long.")
        return None

    def _param(self, name: str) -> str:
        return self.params.get(name, "").strip()

    async def owner(self) -> Principal:
        if self.principal is None:
            secret = self.params.get("apikey")
            self.principal = await self.keys.resolve(secret.strip() if secret else None)
        return self.principal

    async def order(self) -> Order:
        """In OCR.space's order: the key, the parameters, then exactly one source."""
        await self.owner()
        opts = self.options = parse_options(self.params)
        given = self.files + bool(self._param("url")) + bool(self._param("base64image") or self.image)
        if given == 0:
            raise OcrSpaceError(ErrorCode.EMPTY_BODY, MSG_NO_SOURCE)
        if given > 1:
            raise OcrSpaceError(ErrorCode.INVALID_PARAMETER, MSG_TWO_SOURCES)
        outputs = ("searchable_pdf",) if opts.searchable_pdf else ()
        spec = JobSpec(language_hint=opts.language, mode=ENGINE_MODES[opts.engine], outputs=outputs)
        return Order(spec, LANGUAGES.ask(opts.language))
