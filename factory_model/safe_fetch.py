"""Server-side HTTP fetches (Prometheus, inference-server /metrics) behind an operator's allow-list.

The dashboard runs as one server for a team, so a URL typed into a page is fetched *by the server*, from inside
the network it sits in. To keep that from becoming a way to read internal services (SSRF) or to probe ports:

* fetches are **off** unless the operator lists destinations in the environment variable ``AIF_FETCH_ALLOW``
  (comma-separated ``host``, ``host:port``, ``IP``, ``IP:port`` or ``CIDR`` entries; ``*`` allows any public
  address). Tests and the CLI set it the same way (or call :func:`configure`).
* a URL must match an entry (host name or address, and the port when the entry names one), and **every** address
  its host resolves to that is loopback, link-local, private, reserved, multicast or unspecified must itself be
  covered by a listed IP or CIDR (a listed host name pointing at 10.x is refused unless 10.x is listed too);
* the connection goes to the address that was checked (no second DNS lookup), redirects are not followed;
* short timeouts (connect and each read, plus an overall deadline) and a byte cap on the reply;
* on failure the error says, in our own words (under 100 characters), that the fetch failed: never the reply's
  text, and the same words for a refused connection, an HTTP error status, a timeout or an oversized reply, so
  error messages cannot be used to tell open ports from closed ones.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import threading
import time
import urllib.parse

from .errors import FactoryModelError

ENV_ALLOW = "AIF_FETCH_ALLOW"
DEFAULT_TIMEOUT_S = 3.0
DEFAULT_MAX_BYTES = 4 * 2**20  # a vLLM /metrics page is ~100 kB; a fleet's Prometheus answer well under this
MAX_URL_CHARS = 2048

_lock = threading.Lock()
_override: tuple[str, ...] | None = None


class FetchError(FactoryModelError):
    """A server-side fetch was refused by policy or failed; the message never contains fetched content."""


def configure(allow: str | list[str] | tuple[str, ...] | None) -> None:
    """Set the allow-list for this process (overrides ``AIF_FETCH_ALLOW``); None returns to the environment."""
    global _override
    with _lock:
        if allow is None:
            _override = None
        else:
            entries = allow.split(",") if isinstance(allow, str) else list(allow)
            _override = tuple(e.strip() for e in entries if e.strip())


def allow_list() -> tuple[str, ...]:
    with _lock:
        if _override is not None:
            return _override
    return tuple(e.strip() for e in os.environ.get(ENV_ALLOW, "").split(",") if e.strip())


def enabled() -> bool:
    return bool(allow_list())


DISABLED_MESSAGE = (f"server-side fetches are off; the operator enables them with {ENV_ALLOW} (see README, "
                    f"Security)")


def _is_internal(ip: ipaddress._BaseAddress) -> bool:
    return (ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved or ip.is_multicast
            or ip.is_unspecified or (ip.version == 6 and ip.ipv4_mapped is not None
                                     and _is_internal(ip.ipv4_mapped)))


class _Entry:
    def __init__(self, text: str):
        self.text = text
        self.any_public = text == "*"
        self.network = None
        self.host = None
        self.port = None
        if self.any_public:
            return
        try:
            self.network = ipaddress.ip_network(text.strip("[]"), strict=False)
            return
        except ValueError:
            pass
        host, port = text, None
        if text.startswith("["):  # [v6]:port
            host, _, rest = text[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        elif text.count(":") == 1:
            host, port = text.split(":")
        try:
            self.network = ipaddress.ip_network(host, strict=False)
        except ValueError:
            self.host = host.lower().rstrip(".")
        self.port = int(port) if port and port.isdigit() else None

    def covers_ip(self, ip) -> bool:
        return self.network is not None and ip in self.network

    def matches(self, host: str, port: int, ips: list) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host is not None:
            return self.host == host
        if self.network is not None:
            return all(ip in self.network for ip in ips)
        return self.any_public and not any(_is_internal(ip) for ip in ips)


def _resolve(host: str, port: int) -> list:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out = []
    for info in infos:
        try:
            ip = ipaddress.ip_address(info[4][0].split("%")[0])
        except ValueError:
            continue
        if ip not in out:
            out.append(ip)
    return out


def check_url(url: str, what: str = "URL") -> tuple[urllib.parse.SplitResult, str, int]:
    """Parse ``url`` and apply the policy; returns (parts, address to connect to, port). Raises FetchError."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS or any(ord(c) < 33 for c in url):
        raise FetchError(f"{what} must be an http:// or https:// URL without spaces")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"{what} is not a valid URL (check host and port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{what} must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise FetchError(f"{what} must not contain a user name or password")
    entries = [_Entry(e) for e in allow_list()]
    if not entries:
        raise FetchError(DISABLED_MESSAGE)
    host = parts.hostname.lower().rstrip(".")
    ips = _resolve(host, port)
    refused = FetchError(f"{what} is not on this server's allow-list ({ENV_ALLOW}; see README, Security)")
    if not ips:
        raise refused
    if not any(e.matches(host, port, ips) for e in entries):
        raise refused
    for ip in ips:  # an internal address needs an explicit IP/CIDR entry, whatever name pointed at it
        if _is_internal(ip) and not any(e.covers_ip(ip) for e in entries):
            raise refused
    return parts, str(ips[0]), port


def unusable(what: str = "URL") -> FetchError:
    """The one failure message for a fetch: same words whether the connection failed, timed out, answered an
    error status, was too large or was not the expected format (no port probing, no echo of the reply)."""
    return FetchError(f"{what} gave no usable answer (unreachable, timed out, error status, too large or "
                      f"wrong format)")


def fetch(url: str, *, what: str = "URL", timeout_s: float = DEFAULT_TIMEOUT_S,
          max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """GET ``url`` under the policy; the body (at most ``max_bytes``) or a :class:`FetchError`."""
    parts, address, port = check_url(url, what)
    failed = unusable(what)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, port, timeout=timeout_s)
    conn._create_connection = (  # connect to the address that was checked, not a second DNS answer
        lambda _addr, timeout=None, source_address=None: socket.create_connection((address, port), timeout))
    deadline = time.monotonic() + 2 * timeout_s
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", path, headers={"Accept": "text/plain, application/json", "User-Agent": "aif-frontier"})
        response = conn.getresponse()
        if response.status != 200:
            raise failed
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise failed
        chunks, total = [], 0
        while True:
            if time.monotonic() > deadline:
                raise failed
            chunk = response.read(65536)
            if not chunk:
                break
            total += len(chunk)
            if total > max_bytes:
                raise failed
            chunks.append(chunk)
        return b"".join(chunks)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ValueError):
        raise failed from None
    finally:
        conn.close()
