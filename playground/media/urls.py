"""Image addresses: which text is a URL, which URLs may be sent, and a safe server-side fetch.

Visitors type these on a public server, so every check assumes a hostile address: only
public http(s) hosts, no credentials, no redirects, resolved once and connected to the
address that was checked (no DNS rebinding), bounded in bytes and time. Raises only
ImageError, whose message says what is wrong and what to do.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from playground.errors import ImageError
from playground.model.seedance import IMAGE_MAX_BYTES

MAX_URL_CHARS = 2048
# A preview fetch must not hang the UI: 5 s to connect, 10 s between bytes (10 MB at the
# slowest reasonable link still streams well inside that per read).
FETCH_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# ...and the whole fetch ends by then, however slowly a server trickles bytes; the name
# lookup (which has no timeout of its own) gets this long.
FETCH_DEADLINE_S = 15.0
DNS_TIMEOUT_S = 5.0


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]+):")  # one letter would be a Windows drive


def is_url(text: object) -> bool:
    """Whether `text` is written as an address (scheme:...) rather than a file path.

    Any scheme counts, javascript:, data: and file: included, so that validate_url can refuse
    them by name instead of them being taken for odd file names.
    """
    return isinstance(text, str) and _SCHEME.match(text.strip()) is not None


def validate_url(text: str) -> str:
    """An http(s) image address fit to pass to the API as it is; ImageError otherwise."""
    url = text.strip()
    if not url:
        raise ImageError("the image address is empty; paste a link starting with https://.")
    if len(url) > MAX_URL_CHARS:
        raise ImageError(
            f"the image address is over {MAX_URL_CHARS} characters; use a shorter link."
        )
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ImageError("the image address contains spaces or control characters; copy it again.")
    match = _SCHEME.match(url)
    scheme = match.group(1).lower() if match else ""
    if scheme == "file":
        raise ImageError(
            "file:// addresses are not accepted: they name files on the server. "
            "Upload the image instead."
        )
    if scheme in ("javascript", "vbscript"):
        raise ImageError(f"a {scheme}: address is a script, not an image; use an https:// link.")
    if scheme == "data":
        raise ImageError("data: URIs are not accepted here; upload the image file instead.")
    if scheme not in ("http", "https"):
        shown = f"“{scheme}:”" if scheme else "none"
        raise ImageError(
            f"only http:// and https:// image addresses are accepted (scheme: {shown})."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ImageError("it is not a valid web address; copy the image’s link again.") from None
    host = parts.hostname
    if not host:
        raise ImageError("the image address has no host name (https://host/path…).")
    if parts.username is not None or parts.password is not None:
        raise ImageError(
            "the image address contains a user name or password; use a link that needs no login."
        )
    if kind := _local_host_kind(host):
        raise ImageError(
            f"the image address points to a {kind} address ({host}), which Seedance’s servers "
            "cannot reach; use a public link or upload the file."
        )
    return url


def fetch_url_image(
    url: str,
    *,
    max_bytes: int = IMAGE_MAX_BYTES,
    timeout: httpx.Timeout | float = FETCH_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> bytes:
    """The bytes at a public http(s) address, for a server-side preview. Never follows
    redirects; refuses hosts that resolve to private, loopback, link-local or reserved
    addresses (checked before connecting) and bodies over `max_bytes` (stops reading).

    The host is resolved once and the connection goes to that checked address (TLS still
    verifies the certificate against the host name): a DNS answer that changes between
    the check and the connection (DNS rebinding) cannot redirect it to an internal one.
    """
    try:  # the host as DNS, TLS and the Host header spell it: IDNA ("bücher.de" -> xn--…)
        target = httpx.URL(validate_url(url))
        host = target.raw_host.decode("ascii").rstrip(".")
    except (httpx.InvalidURL, UnicodeError):
        raise ImageError("it is not a valid web address; copy the image’s link again.") from None
    address = _public_address(host, target.port or (443 if target.scheme == "https" else 80))
    shown_host = f"[{host}]" if ":" in host else host
    headers = {"Accept": "image/*", "Host": shown_host + (f":{target.port}" if target.port else "")}
    deadline = time.monotonic() + FETCH_DEADLINE_S
    try:
        with (
            httpx.Client(
                timeout=timeout, follow_redirects=False, transport=transport, trust_env=False
            ) as client,
            client.stream(
                "GET",
                target.copy_with(host=address),  # the checked address, not a new lookup
                headers=headers,
                extensions={"sni_hostname": host},
            ) as response,
        ):
            if response.is_redirect or 300 <= response.status_code < 400:
                where = response.headers.get("location", "elsewhere")
                raise ImageError(
                    f"the address redirects ({response.status_code}) to {where[:200]}; "
                    "use the final image address."
                )
            if response.status_code != 200:
                raise ImageError(
                    f"the server answered HTTP {response.status_code} for the image address."
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ImageError(_too_many_bytes(max_bytes))
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise ImageError(_too_many_bytes(max_bytes))
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the fetch took too long")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TimeoutException:
        raise ImageError(
            "the image’s server did not answer in time; try again or upload it."
        ) from None
    except httpx.HTTPError as exc:
        raise ImageError(f"the image could not be downloaded ({type(exc).__name__}).") from None


def _too_many_bytes(max_bytes: int) -> str:
    return f"the image at that address is over {max_bytes / 1024 / 1024:.0f} MB."


def _address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not a public one ("loopback", "private"...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for test, kind in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_private", "private"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, test):
            return kind
    return None if ip.is_global else "non-public"


def _local_host_kind(host: str) -> str | None:
    """What a host name says about itself without a DNS query: localhost or a literal IP,
    in any spelling a resolver accepts ("127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1")."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return "loopback"
    try:
        return _address_kind(ipaddress.ip_address(name.split("%")[0]))
    except ValueError:
        pass
    legacy = _legacy_ipv4(name)
    return _address_kind(legacy) if legacy is not None else None


_IPV4_LIKE = re.compile(r"[0-9a-fx.]+")


def _legacy_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address written in the short, decimal, octal or hex forms that inet_aton (and
    so curl, browsers and most fetchers) read, which `ipaddress` refuses."""
    if not _IPV4_LIKE.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None


def _public_address(host: str, port: int) -> str:
    """The address to connect to; refused if any address the host resolves to is not
    public (a name with one internal address among public ones is not trusted)."""
    lookup = _dns_pool().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=DNS_TIMEOUT_S)
    except (OSError, UnicodeError, TimeoutError):
        raise ImageError(f"the host “{host}” could not be found; check the address.") from None
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    for address in addresses:
        if kind := _address_kind(ipaddress.ip_address(address)):
            raise ImageError(
                f"“{host}” is a {kind} address ({address}); only public addresses are fetched."
            )
    if not addresses:
        raise ImageError(f"the host “{host}” could not be found; check the address.")
    return addresses[0]


@functools.cache
def _dns_pool() -> ThreadPoolExecutor:
    """getaddrinfo cannot be timed out: a few threads wait for it, the caller gives up."""
    return ThreadPoolExecutor(4, thread_name_prefix="dns")
