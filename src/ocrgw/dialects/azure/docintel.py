"""Scaffolding replaced in this session: see the module's real docstring once written."""

from __future__ import annotations

from fastapi import APIRouter

from ocrgw.dialects.azure.errors import render_error  # noqa: F401 - the dialect's own envelope goes here


def build_router() -> APIRouter:
    return APIRouter()
