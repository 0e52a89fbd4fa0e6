"""Routes of the web pages, installed by create_app before the streaming dialect's configurable name (which
then cannot take them): `GET /` answers the playground, `GET /admin` the operator page (a client of the
native admin API, ``dialects.native.admin``), `/static/...` their CSS and JS modules (files inside the
package, so the wheel carries them). Kept out of the OpenAPI schema: pages for people, not an API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"  # reserved in the streaming dialect, so OCRGW_STREAM_API_NAME cannot take it


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", include_in_schema=False)
    async def playground() -> FileResponse:
        """The playground page. `no-cache` so an upgraded server's page and modules are picked up at once
        (revalidated by ETag, so it costs a 304)."""
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @router.get("/admin", include_in_schema=False)
    async def operator() -> FileResponse:
        """The operator page; it holds no data itself (the admin key pasted in reads it from the API)."""
        return FileResponse(STATIC_DIR / "admin.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    return router


def install(app: FastAPI) -> None:
    """The page route and the static mount together; a Mount inside an APIRouter would be dropped by
    include_router, so the mount goes on the app itself."""
    app.include_router(build_router())
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")
