"""Server offers keep the browser's numbering (payload types, header extension ids) for
what was negotiated, and number new m-lines without colliding with it in the BUNDLE."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters

from media.engine.aiortc_hooks import StableNumberingPeerConnection
from media.engine.numbering import Numbering

# Chromium's numbers, which differ from aiortc's defaults (opus 96, VP8 97/98; mid 1).
CHROME_PT = {"audio/opus": 111, "video/VP8": 96, "video/H264": 102}
CHROME_RTX = {96: 97, 102: 103}
CHROME_EXT = {"urn:ietf:params:rtp-hdrext:ssrc-audio-level": 1,
              "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time": 2,
              "urn:ietf:params:rtp-hdrext:sdes:mid": 4}


def as_chrome(offer_sdp: str) -> str:
    """An aiortc offer rewritten in Chromium's numbering (first H264 profile only)."""
    description = sdp.SessionDescription.parse(offer_sdp)
    for media in description.media:
        codecs, renamed = [], {}
        for codec in media.rtp.codecs:
            if codec.mimeType.lower() == "video/rtx":
                base = renamed.get(codec.parameters["apt"])
                if base is None:
                    continue
                codec.payloadType, codec.parameters = CHROME_RTX[base], {"apt": base}
            elif codec.mimeType in CHROME_PT and codec.mimeType not in {c.mimeType for c in codecs}:
                renamed[codec.payloadType] = codec.payloadType = CHROME_PT[codec.mimeType]
            else:
                continue
            codecs.append(codec)
        media.rtp.codecs = codecs
        media.fmt = [c.payloadType for c in codecs]
        media.rtp.headerExtensions = [RTCRtpHeaderExtensionParameters(id=CHROME_EXT[e.uri], uri=e.uri)
                                      for e in media.rtp.headerExtensions]
    return str(description)


def numbers(description: sdp.SessionDescription) -> tuple[dict[int, str], dict[int, str]]:
    """payload type -> codec and extension id -> URI over the whole BUNDLE; fails on a clash."""
    types: dict[int, str] = {}
    ids: dict[int, str] = {}
    for media in description.media:
        for codec in media.rtp.codecs:
            name = f"{codec.mimeType.lower()}/{codec.parameters.get('apt', '')}"
            assert types.setdefault(codec.payloadType, name) == name, (codec.payloadType, types, name)
        for extension in media.rtp.headerExtensions:
            assert ids.setdefault(extension.id, extension.uri) == extension.uri, (extension.id, ids)
    return types, ids


def test_server_offer_keeps_the_browsers_numbers_and_numbers_new_lines_around_them():
    async def scenario():
        browser = RTCPeerConnection()
        server = StableNumberingPeerConnection()
        try:
            browser.addTransceiver("audio", direction="sendrecv")
            browser.addTransceiver("video", direction="sendrecv")
            await browser.setLocalDescription(await browser.createOffer())
            offer = as_chrome(browser.localDescription.sdp)
            await server.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await server.setLocalDescription(await server.createAnswer())
            # The engine forwards another participant's media: two new sendonly m-lines.
            server.addTransceiver("audio", direction="sendonly")
            server.addTransceiver("video", direction="sendonly")
            await server.setLocalDescription()
            description = sdp.SessionDescription.parse(server.localDescription.sdp)
            types, ids = numbers(description)  # no clash anywhere in the BUNDLE
            own_audio, own_video, new_audio, new_video = description.media
            for media in (own_audio, new_audio):
                assert media.rtp.codecs[0].mimeType == "audio/opus" and media.rtp.codecs[0].payloadType == 111
            for media in (own_video, new_video):
                assert [c.payloadType for c in media.rtp.codecs[:2]] == [96, 97]
                assert media.rtp.codecs[1].parameters == {"apt": 96}
            assert ids == {4: "urn:ietf:params:rtp-hdrext:sdes:mid", 1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                           2: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"}
            # What the server sends with is what it offered.
            assert [c.payloadType for c in server.getTransceivers()[3]._codecs][:2] == [96, 97]
            assert types[111] == "audio/opus/"
        finally:
            await browser.close()
            await server.close()

    asyncio.run(scenario())


def test_first_offer_is_aiortcs_own():
    async def scenario():
        server = StableNumberingPeerConnection()
        plain = RTCPeerConnection()
        try:
            for pc in (server, plain):
                pc.addTransceiver("video", direction="sendonly")
            ours = sdp.SessionDescription.parse((await server.createOffer()).sdp).media[0]
            theirs = sdp.SessionDescription.parse((await plain.createOffer()).sdp).media[0]
            assert ours.fmt == theirs.fmt and ours.rtp.headerExtensions == theirs.rtp.headerExtensions
        finally:
            await server.close()
            await plain.close()

    asyncio.run(scenario())


def test_new_codecs_take_free_types_and_rtx_follows_its_base():
    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=127)
    numbering = Numbering([opus], [RTCRtpHeaderExtensionParameters(id=1, uri="urn:x:a")])
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    rtx = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97})
    pcmu = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, payloadType=0)
    video = numbering.codecs_for([vp8, rtx])
    assert [c.payloadType for c in video] == [126, 125] and video[1].parameters["apt"] == 126
    assert [c.payloadType for c in numbering.codecs_for([pcmu])] == [0]  # static types stay
    assert [c.payloadType for c in numbering.codecs_for([vp8, rtx])] == [126, 125]  # same again
    assert numbering.codecs_for([rtx]) == []  # an RTX without its base is left out
    extensions = numbering.extensions_for([RTCRtpHeaderExtensionParameters(id=1, uri="urn:x:b"),
                                           RTCRtpHeaderExtensionParameters(id=9, uri="urn:x:a")])
    assert [(e.id, e.uri) for e in extensions] == [(2, "urn:x:b"), (1, "urn:x:a")]


@pytest.mark.parametrize("count", [40])
def test_running_out_of_numbers_is_a_clear_error(count):
    from media.engine.numbering import NumberingExhausted

    numbering = Numbering()
    codecs = [RTCRtpCodecParameters(mimeType=f"video/X{i}", clockRate=90000, payloadType=96) for i in range(count)]
    with pytest.raises(NumberingExhausted):
        numbering.codecs_for(codecs)
