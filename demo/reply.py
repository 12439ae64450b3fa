"""What a demo page answers: status, type, body, and the misbehaviours a hostile site needs."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Reply"]


@dataclass
class Reply:
    """An answer with more than status, type and body: extra headers, a stall, a body cut short."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    stall: float = 0.0  # seconds to wait after the headers, before the body
    declared_length: int | None = None  # a Content-Length that differs from the body (truncation); -1: none
