"""Which network a request comes from, for limits per visitor on a public server.

The socket's peer, except on a Space: there every request comes through its proxy, which
puts the visitor's address first in X-Forwarded-For (elsewhere anyone could write that
header; uvicorn already reads it from a proxy on loopback).
"""

from __future__ import annotations


def client_address(
    forwarded_for: str | None, peer: str | None, *, trust_forwarded: bool
) -> str | None:
    if trust_forwarded and forwarded_for:
        return forwarded_for.split(",")[0].strip() or peer
    return peer
