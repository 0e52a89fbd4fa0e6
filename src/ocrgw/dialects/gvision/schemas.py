"""Google Cloud Vision wire shapes (the text-detection part of `google.cloud.vision.v1`), for the OpenAPI
document only: the routes read bodies with ``parse`` (streamed, proto3 JSON rules) and write them with
``render``. Enums are numbers when the client asks `$alt=json;enum-encoding=int` (the SDK does), names
otherwise, so their schemas take both."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

Enum = int | str


class _Msg(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


# ------------------------------------------------------------------------------------------- requests
class VisionImageSource(_Msg):
    image_uri: str | None = Field(None, description="An http(s) URL (fetched under the SSRF guard); gs:// is refused.")
    gcs_image_uri: str | None = Field(None, description="Deprecated; gs:// URIs need Cloud Storage, which is not here.")


class VisionImage(_Msg):
    content: str | None = Field(None, description="The image, standard base64.", json_schema_extra={"format": "byte"})
    source: VisionImageSource | None = None


class VisionFeature(_Msg):
    type: Enum | None = Field(
        None,
        description="TEXT_DETECTION (5) or DOCUMENT_TEXT_DETECTION (11); other features get a per-image error.",
        examples=["DOCUMENT_TEXT_DETECTION", 11],
    )
    max_results: int | None = None
    model: str | None = Field(None, examples=["builtin/stable"])


class VisionTextDetectionParams(_Msg):
    enable_text_detection_confidence_score: bool | None = None
    advanced_ocr_options: list[str] | None = None


class VisionImageContext(_Msg):
    language_hints: list[str] | None = Field(None, description="BCP-47 codes, e.g. en, de.", examples=[["en"]])
    text_detection_params: VisionTextDetectionParams | None = None


class VisionAnnotateImageRequest(_Msg):
    """proto3 has no required fields: no image or no features is that image's error inside the 200."""

    image: VisionImage | None = None
    features: list[VisionFeature] | None = None
    image_context: VisionImageContext | None = None


class VisionBatchAnnotateImagesRequest(_Msg):
    requests: list[VisionAnnotateImageRequest] | None = Field(None, max_length=16)
    parent: str | None = None


class VisionInputConfig(_Msg):
    content: str | None = Field(None, description="The file, standard base64.", json_schema_extra={"format": "byte"})
    mime_type: str | None = Field(
        None, description="application/pdf, image/tiff or image/gif.", examples=["application/pdf"]
    )


class VisionAnnotateFileRequest(_Msg):
    input_config: VisionInputConfig | None = None
    features: list[VisionFeature] | None = None
    image_context: VisionImageContext | None = None
    pages: list[int] | None = Field(None, description="1-based; negative from the end; at most 5; none: the first 5.")


class VisionBatchAnnotateFilesRequest(_Msg):
    requests: list[VisionAnnotateFileRequest] | None = Field(None, max_length=1)
    parent: str | None = None


# ------------------------------------------------------------------------------------------- responses
class VisionVertex(BaseModel):
    x: int = 0
    y: int = 0


class VisionNormalizedVertex(BaseModel):
    x: float = 0
    y: float = 0


class VisionBoundingPoly(_Msg):
    vertices: list[VisionVertex] | None = None
    normalized_vertices: list[VisionNormalizedVertex] | None = None


class VisionDetectedLanguage(_Msg):
    language_code: str
    confidence: float | None = None


class VisionDetectedBreak(_Msg):
    type: Enum = Field(description="SPACE 1, SURE_SPACE 2, EOL_SURE_SPACE 3, HYPHEN 4, LINE_BREAK 5.")
    is_prefix: bool | None = None


class VisionTextProperty(_Msg):
    detected_languages: list[VisionDetectedLanguage] | None = None
    detected_break: VisionDetectedBreak | None = None


class VisionSymbol(_Msg):
    property: VisionTextProperty | None = None
    bounding_box: VisionBoundingPoly | None = None
    text: str
    confidence: float | None = None


class VisionWord(_Msg):
    property: VisionTextProperty | None = None
    bounding_box: VisionBoundingPoly | None = None
    symbols: list[VisionSymbol]
    confidence: float | None = None


class VisionParagraph(_Msg):
    property: VisionTextProperty | None = None
    bounding_box: VisionBoundingPoly | None = None
    words: list[VisionWord]
    confidence: float | None = None


class VisionBlock(_Msg):
    property: VisionTextProperty | None = None
    bounding_box: VisionBoundingPoly | None = None
    paragraphs: list[VisionParagraph]
    block_type: Enum | None = None
    confidence: float | None = None


class VisionPage(_Msg):
    property: VisionTextProperty | None = None
    width: int
    height: int
    blocks: list[VisionBlock]
    confidence: float | None = None


class VisionTextAnnotation(_Msg):
    pages: list[VisionPage]
    text: str


class VisionEntityAnnotation(_Msg):
    locale: str | None = None
    description: str
    bounding_poly: VisionBoundingPoly | None = None


class VisionStatus(BaseModel):
    code: int = Field(description="A gRPC code (3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 7, 12, 13).")
    message: str


class VisionImageAnnotationContext(_Msg):
    page_number: int | None = None
    uri: str | None = None


class VisionAnnotateImageResponse(_Msg):
    text_annotations: list[VisionEntityAnnotation] | None = None
    full_text_annotation: VisionTextAnnotation | None = None
    error: VisionStatus | None = Field(None, description="This image's failure; the call itself still answers 200.")
    context: VisionImageAnnotationContext | None = None


class VisionBatchAnnotateImagesResponse(_Msg):
    responses: list[VisionAnnotateImageResponse] = Field(description="One per request, in order.")


class VisionAnnotateFileResponse(_Msg):
    input_config: VisionInputConfig | None = None
    responses: list[VisionAnnotateImageResponse] | None = None
    total_pages: int | None = None
    error: VisionStatus | None = None


class VisionBatchAnnotateFilesResponse(_Msg):
    responses: list[VisionAnnotateFileResponse]


class VisionErrorStatus(BaseModel):
    code: int = Field(description="The HTTP status.")
    message: str
    status: str = Field(examples=["INVALID_ARGUMENT"])
    details: list[dict] | None = None


class VisionErrorResponse(BaseModel):
    """google.rpc.VisionStatus as JSON, for a failure of the whole request."""

    error: VisionErrorStatus


# The request bodies the routes refer to by name, and every model they nest (each under its class name,
# which is how their references name them).
SCHEMAS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        VisionBatchAnnotateImagesRequest,
        VisionAnnotateImageRequest,
        VisionImage,
        VisionImageSource,
        VisionFeature,
        VisionImageContext,
        VisionTextDetectionParams,
        VisionBatchAnnotateFilesRequest,
        VisionAnnotateFileRequest,
        VisionInputConfig,
    )
}
