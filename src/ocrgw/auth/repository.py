"""All SQL on API keys: the per-request lookups of ``auth.KeyResolver`` (async) and the CLI's key
commands (sync)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from ocrgw.auth.models import ApiKey
from ocrgw.clock import utcnow
from ocrgw.db import changed


async def find_key(session: AsyncSession, key_hash: str) -> ApiKey | None:
    return (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))
    ).scalar_one_or_none()


async def find_access_key(session: AsyncSession, access_key: str) -> ApiKey | None:
    return (
        await session.execute(select(ApiKey).where(ApiKey.access_key == access_key, ApiKey.revoked_at.is_(None)))
    ).scalar_one_or_none()


async def add_key_async(session: AsyncSession, key: ApiKey) -> None:
    session.add(key)


async def count_keys(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(ApiKey))).scalar_one()


# ---------------------------------------------------------------------------------------- sync (CLI side)
def add_key(session: Session, key: ApiKey) -> None:
    session.add(key)


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.execute(select(ApiKey).order_by(ApiKey.created_at)).scalars().all()


def revoke_key(session: Session, ident: str) -> int:
    res = session.execute(
        update(ApiKey)
        .where(
            or_(ApiKey.id == ident, ApiKey.name == ident, ApiKey.prefix == ident, ApiKey.access_key == ident),
            ApiKey.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return changed(res)
