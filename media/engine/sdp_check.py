"""Reject unusable SDP with a clear SdpError before it reaches a peer connection."""

from __future__ import annotations

from aiortc import sdp
from aiortc.codecs import CODECS, is_rtx
from aiortc.rtcpeerconnection import find_common_codecs

from .errors import SdpError

MAX_SDP_BYTES = 64 * 1024


def check_description(text: object, what: str) -> sdp.SessionDescription:
    """Parse an offer or answer; raise SdpError if it is garbage or has nothing usable."""
    if not isinstance(text, str) or not text.strip():
        raise SdpError(f"{what}: empty SDP")
    if len(text) > MAX_SDP_BYTES:
        raise SdpError(f"{what}: SDP larger than {MAX_SDP_BYTES} bytes")
    try:
        description = sdp.SessionDescription.parse(text)
    except Exception as exc:  # the parser raises ValueError, IndexError, KeyError... on garbage
        raise SdpError(f"{what}: unparsable SDP ({type(exc).__name__}: {exc})")
    media = [m for m in description.media if m.kind in ("audio", "video")]
    if not media:
        raise SdpError(f"{what}: no audio or video m-line")
    for m in media:
        if m.port == 0:
            continue  # a rejected m-line needs no codec
        common = [c for c in find_common_codecs(CODECS[m.kind], m.rtp.codecs) if not is_rtx(c)]
        if not common:
            offered = sorted({c.mimeType for c in m.rtp.codecs}) or ["none"]
            supported = sorted({c.mimeType for c in CODECS[m.kind] if not is_rtx(c)})
            raise SdpError(
                f"{what}: no common {m.kind} codec for m-line {m.rtp.muxId or '?'}: "
                f"offered {', '.join(offered)}; this server supports {', '.join(supported)}"
            )
        if m.ice is None or not m.ice.usernameFragment or not m.ice.password:
            raise SdpError(f"{what}: m-line {m.rtp.muxId or '?'} has no ICE credentials")
        if not m.dtls or not m.dtls.fingerprints:
            raise SdpError(f"{what}: m-line {m.rtp.muxId or '?'} has no DTLS fingerprint")
    return description
