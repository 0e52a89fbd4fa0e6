"""Outbound HTTP under an SSRF guard, a leaf module: intake fetches URL sources with it and the callback
loop posts with it. An SSRF guard and a bounded fetch. The guard refuses a host outside the operator's
list (OCRGW_URL_ALLOWED_HOSTS, when set) before resolving it, resolves the host once, refuses addresses
that are not public (loopback, private, link-local, cloud metadata, ...) unless the operator allows
them, and the fetch then connects to that very address, so DNS rebinding cannot swap it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit, urlunsplit

import anyio
import httpx

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.settings import Settings

MAX_REDIRECTS = 5
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits and reach it: IPv4-compatible
# (::/96, deprecated but still routed to the IPv4 host by some stacks), SIIT's IPv4-translated (::ffff:0:0:0/96)
# and NAT64's well-known and local-use prefixes. Python calls most of them global, so each is judged by the
# IPv4 address inside: ::127.0.0.1 or 64:ff9b::a9fe:a9fe (169.254.169.254) must not pass as public.
_EMBEDDING_V4 = (
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _reached(addr: Address) -> list[Address]:
    """The address, or the IPv4 addresses an IPv6 form leads to (mapped, compatible, SIIT, NAT64, 6to4, and
    both ends of Teredo), which the guard judges instead."""
    if isinstance(addr, ipaddress.IPv4Address) or addr in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")):
        return [addr]
    if addr.ipv4_mapped is not None:
        return [addr.ipv4_mapped]
    if addr.sixtofour is not None:
        return [addr.sixtofour]
    if addr.teredo is not None:
        return list(addr.teredo)
    if any(addr in net for net in _EMBEDDING_V4):
        return [ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)]
    return [addr]


def address_allowed(addr: Address, settings: Settings) -> bool:
    return all(_one_allowed(a, settings) for a in _reached(addr))


def _one_allowed(addr: Address, settings: Settings) -> bool:
    if addr in METADATA_ADDRESSES or addr.is_multicast or addr.is_unspecified:
        return settings.url_allow_private and not addr.is_multicast and not addr.is_unspecified
    return addr.is_global or settings.url_allow_private


async def resolve_checked(url: str, settings: Settings) -> tuple[httpx.URL, str]:
    """Validate a URL and pick the address to connect to. Raises InvalidUrl / UrlForbidden."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OcrgwError(ErrorCode.INVALID_URL, "Image URL is badly formatted.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OcrgwError(ErrorCode.INVALID_URL, "Image URL is badly formatted: only http(s) URLs are accepted.")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = {h.strip().lower().strip("[]") for h in settings.url_allowed_hosts.split(",") if h.strip()}
    if allowed and host.lower() not in allowed:
        # Before getaddrinfo: a host outside the list costs no DNS query.
        raise OcrgwError(
            ErrorCode.URL_FORBIDDEN, f"Image URL is not accessible: this server does not fetch from {host}."
        )
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise OcrgwError(ErrorCode.DOWNLOAD_FAILED, f"Image URL is not accessible: cannot resolve {host}.") from exc
    addrs = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addrs:
        raise OcrgwError(ErrorCode.DOWNLOAD_FAILED, f"Image URL is not accessible: cannot resolve {host}.")
    refused = [a for a in addrs if not address_allowed(a, settings)]
    if refused:
        raise OcrgwError(
            ErrorCode.URL_FORBIDDEN,
            # The address is not named: echoing it would let a caller map internal host names.
            f"Image URL is not accessible: {host} resolves to a non-public address, "
            "which this server does not fetch from.",
        )
    return httpx.URL(url), str(addrs[0])


def _pinned(url: httpx.URL, ip: str) -> tuple[str, dict[str, str], dict]:
    """The same request aimed at the checked address, with Host and TLS SNI still naming the host."""
    host = url.host
    netloc = f"[{ip}]" if ":" in ip else ip
    if url.port:
        netloc += f":{url.port}"
    target = urlunsplit((url.scheme, netloc, url.raw_path.decode("ascii").split("?")[0], url.query.decode(), ""))
    headers = {"Host": host if not url.port else f"{host}:{url.port}"}
    extensions = {"sni_hostname": host} if url.scheme == "https" else {}
    return target, headers, extensions


@asynccontextmanager
async def open_url(url: str, settings: Settings) -> AsyncIterator[httpx.Response]:
    """Stream a URL's body, following at most five redirects, each one checked again."""
    async with httpx.AsyncClient(follow_redirects=False, timeout=settings.url_fetch_timeout, trust_env=False) as cl:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            checked, ip = await resolve_checked(current, settings)
            target, headers, ext = _pinned(checked, ip)
            headers["User-Agent"] = "ocrgw-fetch/1"
            req = cl.build_request("GET", target, headers=headers, extensions=ext)
            try:
                resp = await cl.send(req, stream=True)
            except httpx.TimeoutException as exc:
                raise OcrgwError(ErrorCode.DOWNLOAD_TIMEOUT, "Timed out downloading the image URL.") from exc
            except httpx.HTTPError as exc:
                raise OcrgwError(ErrorCode.DOWNLOAD_FAILED, f"Image URL is not accessible: {exc}.") from exc
            if resp.is_redirect and "location" in resp.headers:
                await resp.aclose()
                current = urljoin(current, resp.headers["location"])
                continue
            try:
                if resp.status_code != 200:
                    raise OcrgwError(
                        ErrorCode.DOWNLOAD_FAILED,
                        f"Image URL is not accessible: the server answered HTTP {resp.status_code}.",
                    )
                yield resp
            finally:
                await resp.aclose()
            return
        raise OcrgwError(ErrorCode.DOWNLOAD_FAILED, "Image URL is not accessible: too many redirects.")


async def post_checked(url: str, body: bytes, headers: dict[str, str], settings: Settings, timeout: float) -> int:
    """POST to a client-given URL (a job callback) under the same guard as URL sources: the host must
    resolve to an allowed address and the request goes to that address. Redirects are not followed (a
    receiver that moved answers 3xx, which counts as a failed delivery). Returns the HTTP status."""
    checked, ip = await resolve_checked(url, settings)
    target, pinned, ext = _pinned(checked, ip)
    async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
        req = client.build_request("POST", target, content=body, headers={**headers, **pinned}, extensions=ext)
        resp = await client.send(req)
        return resp.status_code
