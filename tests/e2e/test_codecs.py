"""A browser that prefers H264 (as some phones do) publishes H264: the engine forwards it
as is, and the agent's browser receives and decodes H264 from the citizen."""

from __future__ import annotations

import pytest

from tests.e2e import steps

pytestmark = pytest.mark.e2e

# The page's video transceiver puts H264 first, as a browser with hardware H264 would.
PREFER_H264 = """(() => {
  const add = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (kind, init) {
    const transceiver = add.call(this, kind, init);
    const isVideo = (typeof kind === "string" ? kind : kind.kind) === "video";
    if (isVideo && init?.direction === "sendrecv") {
      const codecs = RTCRtpReceiver.getCapabilities("video").codecs;
      const rank = (c) => (c.mimeType === "video/H264" ? 0 : c.mimeType === "video/rtx" ? 2 : 1);
      transceiver.setCodecPreferences([...codecs].sort((a, b) => rank(a) - rank(b)));
    }
    return transceiver;
  };
})();"""

INBOUND_VIDEO_CODECS = """async () => {
  const stats = await window.gvDebug.pc.getStats();
  const codecs = [];
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0 && s.codecId) {
      codecs.push(stats.get(s.codecId).mimeType);
    }
  });
  return codecs;
}"""


def test_h264_publisher_is_forwarded_as_h264(server, booked, browsers):
    agent, room = booked
    agent_page = browsers.open("agent")
    citizen = browsers.open("citizen")
    citizen.add_init_script(PREFER_H264)
    steps.meet(agent_page, citizen, server.base, agent, room)
    # The agent decodes H264 from the citizen (VP8 stays what the agent's browser sends).
    assert agent_page.evaluate(INBOUND_VIDEO_CODECS) == ["video/H264"]
    assert citizen.evaluate(INBOUND_VIDEO_CODECS) == ["video/VP8"]
