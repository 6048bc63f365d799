"""The address a request is counted as (rate limits): the peer's, unless the peer is a
configured reverse proxy (`APP_TRUSTED_PROXIES`), whose `X-Forwarded-For` is then believed.

Without trusted proxies the header is ignored: any client could otherwise send a new address
with every request and never be limited. The server must not rewrite the peer from the header
either (uvicorn runs with `proxy_headers=False`: see app/serve.py, which `make run` and the
Dockerfile use)."""

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import Request

Network = IPv4Network | IPv6Network


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        parsed: IPv4Address | IPv6Address = ip_address(address.strip())
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(request: Request, proxies: Sequence[Network]) -> str:
    """Walks X-Forwarded-For from the right past the trusted proxies: the first address not
    among them is the client (entries further left were written by the client itself)."""
    peer = request.client.host if request.client else "unknown"
    if not proxies or not _trusted(peer, proxies):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer
