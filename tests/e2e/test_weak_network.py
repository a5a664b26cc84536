"""Weak networks (issue 25): what Chromium and the engine agree on so that calls survive loss."""

from __future__ import annotations

import re

import pytest

from tests.e2e import steps

pytestmark = pytest.mark.e2e

# Both descriptions of the page's connection: Chromium's own and the engine's.
DESCRIPTIONS = """() => [window.gvDebug.pc.currentLocalDescription.sdp,
                         window.gvDebug.pc.currentRemoteDescription.sdp]"""


def _opus_fmtp(description: str) -> set[str]:
    """The fmtp parameters of every Opus payload type in a description (None if Opus is absent)."""
    payload_types = re.findall(r"^a=rtpmap:(\d+) opus/48000/2\r?$", description, re.M)
    assert payload_types, "no Opus in the description"
    parameters = set()
    for pt in payload_types:
        fmtp = re.search(rf"^a=fmtp:{pt} (.*?)\r?$", description, re.M)
        assert fmtp, f"Opus {pt} has no fmtp"
        parameters |= set(fmtp.group(1).split(";"))
    return parameters


def _video_feedback(description: str) -> set[str]:
    return set(re.findall(r"^a=rtcp-fb:\d+ (nack(?: pli)?)\r?$", description, re.M))


def test_opus_fec_and_dtx_are_negotiated_both_ways_and_video_keeps_nack(server, booked, browsers):
    agent, room = booked
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    steps.meet(agent_page, citizen, server.base, agent, room)
    # The citizen's page offered, the engine answered; the agent's page got the engine's
    # offers for the citizen's tracks too. Every description, each way, asks for FEC and DTX.
    for page in (citizen, agent_page):
        for description in page.evaluate(DESCRIPTIONS):
            assert {"useinbandfec=1", "usedtx=1"} <= _opus_fmtp(description)
            assert {"nack", "nack pli"} <= _video_feedback(description)
