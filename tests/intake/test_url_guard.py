"""SSRF guard for URL sources: ``ocrgw.net.address_allowed`` and ``resolve_checked``.

Only IP literals and ``localhost`` are resolved (both locally, no DNS traffic), and nothing here ever
connects anywhere."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest

from ocrgw.errors import ErrorCode, OcrgwError
from ocrgw.net import address_allowed, resolve_checked
from ocrgw.settings import Settings

STRICT = Settings(url_allow_private=False)
ALLOW = Settings(url_allow_private=True)

# Addresses that are never public: the guard must refuse every one of them by default.
NON_PUBLIC = [
    "127.0.0.1",  # loopback v4
    "127.255.255.254",  # the whole 127/8
    "::1",  # loopback v6
    "10.0.0.1",  # 10/8
    "10.255.255.255",
    "172.16.0.1",  # 172.16/12, both ends
    "172.31.255.254",
    "192.168.0.1",  # 192.168/16
    "192.168.255.255",
    "169.254.169.254",  # cloud metadata (AWS/GCP/Azure)
    "169.254.170.2",  # ECS task metadata
    "169.254.1.1",  # link-local
    "fe80::1",  # link-local v6
    "100.64.0.1",  # carrier-grade NAT 100.64/10
    "100.127.255.254",
    "100.100.100.200",  # Alibaba metadata (inside 100.64/10)
    "fd00::1",  # unique local fd00::/8
    "fc00::1",  # fc00::/7
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "0.0.0.0",  # unspecified (connects to the local host on Linux)
    "::",  # unspecified v6
    "224.0.0.1",  # multicast v4
    "239.255.255.250",
    "ff02::1",  # multicast v6
    "255.255.255.255",  # broadcast
    "192.0.2.10",  # TEST-NET-1 (documentation)
    "198.18.0.1",  # benchmarking 198.18/15
    # IPv6 forms that carry an IPv4 address and reach it (Python calls most of them global):
    "::127.0.0.1",  # IPv4-compatible loopback
    "::10.0.0.1",  # IPv4-compatible private
    "::ffff:0:7f00:1",  # SIIT IPv4-translated 127.0.0.1
    "::ffff:0:a9fe:a9fe",  # SIIT IPv4-translated 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix to 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 to 127.0.0.1
    "64:ff9b:1::a00:1",  # NAT64 local-use prefix (RFC 8215) to 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::",  # 6to4 of 192.168.1.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (its client end is 192.0.2.45, documentation space)
    "2001:0:a00:1:8000:63bf:3fff:fdd2",  # Teredo whose server end is 10.0.0.1
]
PUBLIC = [
    "93.184.216.34",
    "8.8.8.8",
    "1.1.1.1",
    "2606:2800:220:1:248:1893:25c7:1946",
    "2001:4860:4860::8888",
    # the same forms, judged by the public IPv4 inside them
    "64:ff9b::808:808",  # NAT64 to 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "::ffff:0:808:808",  # SIIT to 8.8.8.8
]
# Even the operator's "allow private" switch must not make these targets: they are not hosts.
NEVER = ["0.0.0.0", "::", "::ffff:0.0.0.0", "224.0.0.1", "239.255.255.250", "ff02::1"]


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def _resolve(url: str, settings: Settings = STRICT) -> tuple[httpx.URL, str]:
    return asyncio.run(resolve_checked(url, settings))


def _refused(url: str, settings: Settings = STRICT) -> OcrgwError:
    with pytest.raises(OcrgwError) as info:
        _resolve(url, settings)
    return info.value


# --- address_allowed --------------------------------------------------------------------------------


@pytest.mark.parametrize("addr", NON_PUBLIC)
def test_non_public_addresses_refused_by_default(addr: str) -> None:
    assert address_allowed(_ip(addr), STRICT) is False


@pytest.mark.parametrize("addr", PUBLIC)
def test_public_addresses_allowed(addr: str) -> None:
    assert address_allowed(_ip(addr), STRICT) is True
    assert address_allowed(_ip(addr), ALLOW) is True


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.20.0.5",
        "192.168.1.10",
        "169.254.169.254",
        "100.64.0.1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "fe80::1",
    ],
)
def test_allow_private_setting_lets_private_addresses_through(addr: str) -> None:
    assert address_allowed(_ip(addr), STRICT) is False
    assert address_allowed(_ip(addr), ALLOW) is True


@pytest.mark.parametrize("addr", NEVER)
def test_unspecified_and_multicast_refused_even_when_private_allowed(addr: str) -> None:
    assert address_allowed(_ip(addr), ALLOW) is False
    assert address_allowed(_ip(addr), STRICT) is False


def test_mapped_public_address_is_judged_by_its_ipv4() -> None:
    assert address_allowed(_ip("::ffff:93.184.216.34"), STRICT) is True


# --- resolve_checked: addresses ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://127.0.0.1:8080/x.png",
        "https://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://10.0.0.1/x.png",
        "http://172.16.5.4/x.png",
        "http://192.168.1.1/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.1.1/x.png",
        "http://[fd00::1]/x.png",
        "http://0.0.0.0:8000/x.png",
        "http://224.0.0.1/x.png",
        "http://localhost/x.png",  # resolved from /etc/hosts
        # Alternative spellings of 127.0.0.1 that the C resolver accepts
        "http://2130706433/x.png",
        "http://0x7f.1/x.png",
        "http://127.1/x.png",
        "http://0177.0.0.1/x.png",
        # credentials that look like a host do not change the host
        "http://93.184.216.34@127.0.0.1/x.png",
        "http://93.184.216.34:80@[::1]/x.png",
        # IPv6 forms of internal IPv4 addresses that Python's is_global calls public
        "http://[::127.0.0.1]/x.png",
        "http://[::ffff:0:7f00:1]/x.png",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[2002:a9fe:a9fe::]/latest/meta-data/",
    ],
)
def test_resolve_refuses_non_public_targets(url: str) -> None:
    err = _refused(url)
    assert err.code is ErrorCode.URL_FORBIDDEN
    assert "non-public" in err.message
    # The message names the host as the caller wrote it, never the address it resolved to: echoing that
    # would let a caller map internal host names.
    for shown in ("127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "0.0.0.0", "224.0.0.1", "100.64.1.1"):
        if shown not in url:
            assert shown not in err.message, err.message


@pytest.mark.parametrize(
    ("url", "ip"),
    [
        ("http://93.184.216.34/x.png", "93.184.216.34"),
        ("https://93.184.216.34:8443/scan.jpg?sig=abc", "93.184.216.34"),
        ("http://[2606:2800:220:1:248:1893:25c7:1946]/x.png", "2606:2800:220:1:248:1893:25c7:1946"),
    ],
)
def test_resolve_allows_public_literals_and_pins_the_address(url: str, ip: str) -> None:
    checked, addr = _resolve(url)
    assert isinstance(checked, httpx.URL)
    assert str(checked) == url
    assert addr == ip


def test_allow_private_setting_resolves_loopback() -> None:
    checked, addr = _resolve("http://127.0.0.1:9/x.png", ALLOW)
    assert addr == "127.0.0.1"
    assert checked.port == 9
    _, addr6 = _resolve("http://[::1]:9/x.png", ALLOW)
    assert addr6 == "::1"
    _, meta = _resolve("http://169.254.169.254/latest/", ALLOW)
    assert meta == "169.254.169.254"


@pytest.mark.parametrize("url", ["http://0.0.0.0/x.png", "http://224.0.0.1/x.png", "http://[ff02::1]/x.png"])
def test_allow_private_setting_still_refuses_unspecified_and_multicast(url: str) -> None:
    assert _refused(url, ALLOW).code is ErrorCode.URL_FORBIDDEN


# --- resolve_checked: URL syntax and schemes ---------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x.png",
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "gopher://93.184.216.34:70/_x",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "//93.184.216.34/x.png",  # scheme-relative
        "93.184.216.34/x.png",  # no scheme
        "http:///x.png",  # no host
        "http://",
        "https://:443/x.png",
        "",
        "http://[::1/x.png",  # broken IPv6 literal
        "http://93.184.216.34:99999/x.png",  # port out of range
        "http://93.184.216.34:port/x.png",
    ],
)
def test_resolve_refuses_malformed_urls_and_other_schemes(url: str) -> None:
    err = _refused(url)
    assert err.code is ErrorCode.INVALID_URL
    # also with private targets allowed: the switch is about addresses, not schemes
    assert _refused(url, ALLOW).code is ErrorCode.INVALID_URL


def test_scheme_is_case_insensitive() -> None:
    _, addr = _resolve("HTTP://93.184.216.34/x.png")
    assert addr == "93.184.216.34"


# --- OCRGW_URL_ALLOWED_HOSTS ------------------------------------------------------------------------


def test_allowed_hosts_refuse_any_other_host_before_resolving_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host outside the list is refused without a lookup: no DNS query leaves for a name a caller made
    up (test_spec_conformance sends thousands). The lookup is anyio's, watched here, not ours."""
    import anyio

    looked_up: list[str] = []
    real = anyio.getaddrinfo

    async def watched(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        looked_up.append(host)
        return await real(host, *args, **kwargs)

    monkeypatch.setattr(anyio, "getaddrinfo", watched)
    only_loopback = Settings(url_allow_private=True, url_allowed_hosts=" 127.0.0.1 , [::1]")
    for url in ("http://example.com/x.png", "https://LOCALHOST/x.png", "http://93.184.216.34/x.png"):
        err = _refused(url, only_loopback)
        assert err.code is ErrorCode.URL_FORBIDDEN
        assert "does not fetch from" in err.message
    assert looked_up == []
    assert _resolve("http://127.0.0.1:8080/x.png", only_loopback)[1] == "127.0.0.1"
    assert _resolve("http://[::1]/x.png", only_loopback)[1] == "::1"
    assert looked_up == ["127.0.0.1", "::1"]


def test_allowed_hosts_do_not_lift_the_address_guard() -> None:
    """Listing a host does not make a private address public: both must pass."""
    err = _refused("http://127.0.0.1/x.png", Settings(url_allow_private=False, url_allowed_hosts="127.0.0.1"))
    assert err.code is ErrorCode.URL_FORBIDDEN
    assert "non-public" in err.message
