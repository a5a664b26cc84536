"""One numbering per connection: payload types and header extension ids, as negotiated.

A BUNDLE carries every m-line on one transport, so a payload type or an extension id must
mean the same thing in all of them, and must not change once negotiated (RFC 8843 §7,
RFC 8285). aiortc 1.16 renumbers with its own defaults on every offer it makes (opus 96,
VP8 97; mid 1, audio level 2), so a server offer would rename the codecs the browser
already sends with, and give new m-lines numbers that collide with the browser's (aiortc
issues #686, #1079). `Numbering` keeps what was negotiated and numbers anything new in
the gaps, the way libwebrtc does (free payload types from 127 down, free ids from 1 up).
Plain functions over aiortc's parameter objects; the offer hook is in aiortc_hooks.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

from aiortc.codecs import is_rtx
from aiortc.rtcpeerconnection import is_codec_compatible
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters

DYNAMIC_PAYLOAD_TYPES = range(96, 128)
EXTENSION_IDS = range(1, 15)  # one-byte header extensions


class NumberingExhausted(ValueError):
    """No free payload type or extension id is left for a new codec or extension."""


class Numbering:
    """The numbers one connection uses; grows as new m-lines are numbered."""

    def __init__(self, codecs: Iterable[RTCRtpCodecParameters] = (),
                 extensions: Iterable[RTCRtpHeaderExtensionParameters] = ()) -> None:
        self.codecs: list[RTCRtpCodecParameters] = []
        self.extension_ids: dict[str, int] = {}
        for codec in codecs:
            if all(known.payloadType != codec.payloadType for known in self.codecs):
                self.codecs.append(codec)
        for extension in extensions:
            self.extension_ids.setdefault(extension.uri, extension.id)

    def _free_payload_type(self) -> int:
        used = {codec.payloadType for codec in self.codecs}
        for payload_type in reversed(DYNAMIC_PAYLOAD_TYPES):
            if payload_type not in used:
                return payload_type
        raise NumberingExhausted("no free dynamic payload type")

    def _known(self, codec: RTCRtpCodecParameters, apt: int | None) -> RTCRtpCodecParameters | None:
        for known in self.codecs:
            if apt is not None:
                if is_rtx(known) and known.parameters.get("apt") == apt and known.clockRate == codec.clockRate:
                    return known
            elif not is_rtx(known) and is_codec_compatible(known, codec):
                return known
        return None

    def codecs_for(self, codecs: Iterable[RTCRtpCodecParameters]) -> list[RTCRtpCodecParameters]:
        """`codecs` (aiortc's defaults for a new m-line) in this connection's numbering.

        A codec already negotiated keeps its payload type (and parameters, so that an H264
        profile stays the one agreed); a new one takes a free type; RTX follows its base
        (an RTX whose base was left out is left out)."""
        renamed: dict[int, int] = {}  # default payload type -> ours
        out: list[RTCRtpCodecParameters] = []
        for codec in codecs:
            apt = None
            if is_rtx(codec):
                base = codec.parameters.get("apt")  # aiortc parses fmtp numbers to int
                apt = renamed.get(base) if isinstance(base, int) else None
                if apt is None:
                    continue
            known = self._known(codec, apt)
            if known is not None:
                numbered = copy.deepcopy(known)
            else:
                numbered = copy.deepcopy(codec)
                if codec.payloadType in DYNAMIC_PAYLOAD_TYPES:
                    numbered.payloadType = self._free_payload_type()
                if apt is not None:
                    numbered.parameters = {**codec.parameters, "apt": apt}
                self.codecs.append(numbered)
            numbered.rtcpFeedback = list(codec.rtcpFeedback)  # what this side does, per m-line
            assert codec.payloadType is not None and numbered.payloadType is not None  # aiortc numbers its codecs
            renamed[codec.payloadType] = numbered.payloadType
            out.append(numbered)
        return out

    def extensions_for(self, extensions: Iterable[RTCRtpHeaderExtensionParameters]
                       ) -> list[RTCRtpHeaderExtensionParameters]:
        """`extensions` with the ids already used for their URIs, or free ones."""
        out = []
        for extension in extensions:
            ext_id = self.extension_ids.get(extension.uri)
            if ext_id is None:
                free = [i for i in EXTENSION_IDS if i not in self.extension_ids.values()]
                if not free:
                    raise NumberingExhausted("no free header extension id")
                ext_id = self.extension_ids[extension.uri] = free[0]
            out.append(RTCRtpHeaderExtensionParameters(id=ext_id, uri=extension.uri))
        return out
