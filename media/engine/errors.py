"""Typed errors raised by the media engine; the signalling layer maps them to messages."""

from __future__ import annotations


class MediaError(Exception):
    """Base class of every error the engine raises on purpose."""


class SdpError(MediaError):
    """An offer or answer that cannot be used: garbage, no audio/video m-line, no common codec."""


class UnknownPeerError(MediaError):
    """The room or participant is not known to this engine."""


class NegotiationError(MediaError):
    """An answer arrived while no server offer was waiting for one."""


class ContractError(MediaError):
    """The installed aiortc/aioice no longer match the internals the hook layer relies on (an upgrade)."""


class MediaTimeout(MediaError):
    """ICE gathering (or another bounded step) took longer than allowed."""
