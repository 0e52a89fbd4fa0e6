"""Native admin API (`/v1/admin`, admin keys only): keys (create, list, change, revoke), their limits per
service, tiers, subscriptions with their packages, and the queue per key; the operator page (`/admin`,
``ocrgw.web``) is its client. Thin: each route checks the caller, runs one ``tenancy.admin`` operation in
a transaction (``run_sync``: the CLI's own code), forgets the key's cached policy so this process applies
a change at once (the others within ``policy.CACHE_SECONDS``), and renders the named schemas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from ocrgw.auth import Principal, derive_sk
from ocrgw.context import AppContext, Ctx, public_base_url
from ocrgw.dialects.native import admin_schemas as A
from ocrgw.dialects.native.routes import TAG, Caller, _errors
from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.jobs.usage import SERVICES
from ocrgw.tenancy import admin
from ocrgw.tenancy.policy import Limit
from ocrgw.tenancy.tiers import TIERS

T = TypeVar("T")
KeyId = Annotated[str, Path(description="The key's id (`GET /v1/admin/keys` lists them).")]
Scope = Annotated[
    str,
    Path(description="A service, or `*` for every service of the key together.", json_schema_extra=A.SCOPE_ENUM),
]
Service = Annotated[str, Path(description="A service.", json_schema_extra={"enum": list(SERVICES)})]


async def admin_principal(caller: Caller) -> Principal:
    """The caller, if its key is an admin key; a dependency, so a non-admin gets 403 before its body is read."""
    if not caller.is_admin:
        raise OcrgwError(ErrorCode.FORBIDDEN, "Only an admin key may use the admin API (`ocrgw keys create --admin`).")
    return caller


AdminCaller = Annotated[Principal, Depends(admin_principal)]


async def _run(ctx: AppContext, fn: Callable[[Session], T], key_id: str | None = None) -> T:
    """``fn`` in one transaction; then this process reads the key's policy afresh at its next submit."""
    async with ctx.db.begin() as s:
        out = await s.run_sync(fn)
    if key_id is not None:
        ctx.gate.policies.forget(key_id)
    return out


def _forget_key(ctx: AppContext, info: admin.KeyInfo) -> admin.KeyInfo:
    """A revoked or promoted key: this process looks it up afresh at its next request (no 5 s wait)."""
    ctx.keys.forget(info.key_hash, info.access_key)
    return info


def _key(info: admin.KeyInfo) -> A.AdminKey:
    return A.AdminKey(
        id=info.id,
        name=info.name,
        prefix=info.prefix,
        access_key=info.access_key,
        admin=info.is_admin,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
        subscription_required=info.subscription_required,
        tiers=list(info.tiers),
        limits=[_limit(lim) for lim in info.limits],
        subscriptions=[A.SubscriptionStatus(**asdict(sub)) for sub in info.subscriptions],
    )


def _limit(lim: Limit) -> A.Limits:
    fields = asdict(lim)
    return A.Limits(service=fields.pop("scope"), **fields)


def _not_self(caller: Principal, key_id: str, what: str) -> None:
    """An admin key may not lock its own caller out (revoke itself, or give up admin)."""
    if caller.key_id == key_id:
        raise OcrgwError(ErrorCode.FORBIDDEN, f"A key may not {what} itself; use another admin key (or the CLI).")


# ---------------------------------------------------------------------------------------------------- keys
async def list_keys(ctx: Ctx, caller: AdminCaller) -> A.AdminKeyList:
    """Every key, revoked ones included, oldest first, with its limits, tiers and subscriptions."""
    return A.AdminKeyList(items=[_key(k) for k in await _run(ctx, admin.list_keys)])


async def create_key(body: A.KeyCreate, request: Request, ctx: Ctx, caller: AdminCaller) -> Response:
    """A new key; its secret (and SK, with `access_key`) is in this answer only. `tier` copies a tier
    profile's limits onto it."""

    def create(s: Session) -> tuple[admin.KeyInfo, str]:
        row, secret = admin.create_key(s, body.name, admin=body.admin, with_access_key=body.access_key, tier=body.tier)
        return admin.key_info(s, row), secret

    info, secret = await _run(ctx, create)
    sk = derive_sk(ctx.settings.resolved_secret_key, info.access_key) if info.access_key else None
    created = A.KeyCreated(key=_key(info), secret=secret, secret_key=sk)
    location = f"{public_base_url(request, ctx.settings)}/v1/admin/keys/{info.id}"
    return JSONResponse(created.model_dump(mode="json"), status_code=201, headers={"Location": location})


async def get_key(key_id: KeyId, ctx: Ctx, caller: AdminCaller) -> A.AdminKey:
    """One key, with its limits, tiers and subscriptions (and their packages' use)."""
    return _key(await _run(ctx, lambda s: admin.key_info(s, admin.get_key(s, key_id))))


async def update_key(key_id: KeyId, body: A.KeyUpdate, ctx: Ctx, caller: AdminCaller) -> A.AdminKey:
    """Rename a key, make it admin or not, require subscriptions, or copy a tier profile onto it."""
    if body.admin is False:
        _not_self(caller, key_id, "take admin from")

    def update(s: Session) -> admin.KeyInfo:
        admin.update_key(s, key_id, name=body.name, admin=body.admin, subscription_required=body.subscription_required)
        if body.tier is not None:
            admin.apply_tier(s, key_id, body.tier)
        return admin.key_info(s, admin.get_key(s, key_id))

    return _key(_forget_key(ctx, await _run(ctx, update, key_id)))


async def revoke_key(key_id: KeyId, ctx: Ctx, caller: AdminCaller) -> A.AdminKey:
    """Revoke a key: it stops authenticating at once on this API process, within seconds on the others
    (each caches keys briefly). It
    stays listed, revoked (a POST, not a DELETE: nothing is deleted); its jobs, queued ones included, stay
    and run, and its usage records stay. Revoking again changes nothing."""
    _not_self(caller, key_id, "revoke")
    return _key(_forget_key(ctx, await _run(ctx, lambda s: admin.key_info(s, admin.revoke_key(s, key_id)), key_id)))


# -------------------------------------------------------------------------------------------------- limits
async def get_limit(key_id: KeyId, service: Scope, ctx: Ctx, caller: AdminCaller) -> A.Limits:
    """The key's own limit row for the service (404 if it has none: the `*` row, or nothing, applies)."""
    return _limit(await _run(ctx, lambda s: admin.get_limit(s, key_id, service)))


async def set_limit(key_id: KeyId, service: Scope, body: A.LimitSettings, ctx: Ctx, caller: AdminCaller) -> A.Limits:
    """Set the key's limits for the service (or `*`) as a whole; fields left out are no limit. Only
    later submits are judged by it: jobs already accepted stay queued and run."""
    values = body.model_dump()
    return _limit(await _run(ctx, lambda s: admin.set_limit(s, key_id, service, values, replace=True), key_id))


async def clear_limit(key_id: KeyId, service: Scope, ctx: Ctx, caller: AdminCaller) -> Response:
    """Drop the key's row for the service: its `*` row, or no limit, applies again."""
    await _run(ctx, lambda s: admin.clear_limit(s, key_id, service), key_id)
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------- subscriptions
async def get_subscription(key_id: KeyId, service: Service, ctx: Ctx, caller: AdminCaller) -> A.SubscriptionStatus:
    """The subscription and its package: calls used from it, remaining, and pay-per-use calls past it."""
    return A.SubscriptionStatus(**asdict(await _run(ctx, lambda s: admin.subscription_usage(s, key_id, service))))


async def subscribe(
    key_id: KeyId, service: Service, body: A.SubscriptionSettings, ctx: Ctx, caller: AdminCaller
) -> A.SubscriptionStatus:
    """Subscribe the key to the service (a key with `subscription_required` may call only those), with a
    purchased package of calls or none."""
    status = await _run(ctx, lambda s: admin.subscribe(s, key_id, service, body.package_calls), key_id)
    return A.SubscriptionStatus(**asdict(status))


async def unsubscribe(key_id: KeyId, service: Service, ctx: Ctx, caller: AdminCaller) -> Response:
    """End the subscription (its usage records stay)."""
    await _run(ctx, lambda s: admin.unsubscribe(s, key_id, service), key_id)
    return Response(status_code=204)


# ----------------------------------------------------------------------------------------- tiers, queue
async def list_tiers(caller: AdminCaller) -> A.TierList:
    """The tier profiles a key can be given: the vendors' documented free and standard tiers."""
    items = [
        A.Tier(
            name=t.name,
            description=t.description,
            services=list(t.services),
            limits=A.LimitSettings(**t.limits),
            subscription_required=t.subscription_required,
            subscribe=t.subscribe,
        )
        for t in TIERS.values()
    ]
    return A.TierList(items=items, services=list(SERVICES))


async def get_queue(ctx: Ctx, caller: AdminCaller) -> A.QueueReport:
    """Jobs not yet ended per key (queued and running), busiest key first."""
    rows = await _run(ctx, admin.queue)
    items = [A.QueueEntry(key_id=r.key_id, key_name=r.key_name, queued=r.queued, running=r.running) for r in rows]
    return A.QueueReport(items=items, queued=sum(r.queued for r in rows), running=sum(r.running for r in rows))


_CREATED: dict[int | str, dict[str, Any]] = {
    201: {
        "model": A.KeyCreated,
        "description": "Created; the secret is shown this once.",
        "headers": {"Location": {"description": "The key's URL.", "schema": {"type": "string"}}},
    }
}
_TEXT = {
    403: "Not an admin key (or an admin key revoking or demoting itself).",
    404: "No such key (or it has no limit row or subscription for the service).",
}


def _admin_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    out = _errors(*codes)
    for code, text in _TEXT.items():
        if code in out:
            out[code] = {**out[code], "description": text}
    return out


_KEYS = "/admin/keys/{key_id}"
router = APIRouter(prefix="/v1", tags=[TAG])
# Each operation: (method, path, endpoint, operationId, summary, response model, status, error statuses).
for method, path, endpoint, operation_id, summary, model, status, errors in (
    ("GET", "/admin/keys", list_keys, "listKeys", "List API keys (admin)", A.AdminKeyList, None, (401, 403)),
    ("POST", "/admin/keys", create_key, "createKey", "Create an API key (admin)", None, 201, (400, 401, 403)),
    ("GET", _KEYS, get_key, "getKey", "Get an API key (admin)", A.AdminKey, None, (401, 403, 404)),
    ("PATCH", _KEYS, update_key, "updateKey", "Change an API key (admin)", A.AdminKey, None, (400, 401, 403, 404)),
    ("POST", _KEYS + "/revoke", revoke_key, "revokeKey", "Revoke an API key (admin)", A.AdminKey, None,
     (401, 403, 404)),
    ("GET", _KEYS + "/limits/{service}", get_limit, "getKeyLimit", "Get a key's limits for a service (admin)",
     A.Limits, None, (400, 401, 403, 404)),
    ("PUT", _KEYS + "/limits/{service}", set_limit, "setKeyLimit", "Set a key's limits for a service (admin)",
     A.Limits, None, (400, 401, 403, 404)),
    ("DELETE", _KEYS + "/limits/{service}", clear_limit, "clearKeyLimit",
     "Drop a key's limits for a service (admin)", None, 204, (400, 401, 403, 404)),
    ("GET", _KEYS + "/subscriptions/{service}", get_subscription, "getSubscription",
     "Get a key's subscription and its package (admin)", A.SubscriptionStatus, None, (400, 401, 403, 404)),
    ("PUT", _KEYS + "/subscriptions/{service}", subscribe, "subscribeKey", "Subscribe a key to a service (admin)",
     A.SubscriptionStatus, None, (400, 401, 403, 404)),
    ("DELETE", _KEYS + "/subscriptions/{service}", unsubscribe, "unsubscribeKey",
     "End a key's subscription (admin)", None, 204, (400, 401, 403, 404)),
    ("GET", "/admin/tiers", list_tiers, "listTiers", "List the tier profiles (admin)", A.TierList, None, (401, 403)),
    ("GET", "/admin/queue", get_queue, "getQueue", "Get the jobs not yet ended per key (admin)", A.QueueReport,
     None, (401, 403)),
):  # fmt: skip
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        operation_id=operation_id,
        summary=summary,
        response_model=model,
        status_code=status,
        responses={**(_CREATED if status == 201 else {}), **_admin_errors(*errors)},
    )
