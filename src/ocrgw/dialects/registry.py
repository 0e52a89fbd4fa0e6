"""Every dialect the app mounts, in mounting and documentation order: the native API first (the one to
generate clients from), then the vendors'. A new vendor API is one more package and one more line here."""

from __future__ import annotations

from ocrgw.dialects import Dialect, azure, flaskapi, gvision, huawei, native, ocrspace, streamapi, textract

DIALECTS: tuple[Dialect, ...] = (
    *native.DIALECTS,
    *azure.DIALECTS,
    *ocrspace.DIALECTS,
    *huawei.DIALECTS,
    *textract.DIALECTS,
    *flaskapi.DIALECTS,
    *streamapi.DIALECTS,
    *gvision.DIALECTS,
)
# Paths no dialect owns (an unknown route) answer in Azure's envelope: most such callers are Azure SDKs.
DEFAULT_ERRORS = azure.READ.render_error
