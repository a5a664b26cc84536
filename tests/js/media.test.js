// The peer connection's pure helpers (rooms/static/rooms/js/media.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { remoteTracks, videoParameters, withOpusParameters } from "../../rooms/static/rooms/js/media.js";

const transceiver = (mid, currentDirection = "sendrecv") => ({
  mid, currentDirection, receiver: { track: { id: `track-${mid}` } },
});

test("remote tracks by participant, without our own senders or inactive ones", () => {
  const ownAudio = transceiver("0");
  const ownVideo = transceiver("1");
  const all = [ownAudio, ownVideo, transceiver("2"), transceiver("3"), transceiver("4", "inactive"),
    transceiver(null), transceiver("5")];
  const tracks = {
    0: { participant_id: "me", kind: "audio" },
    2: { participant_id: "p1", kind: "audio" },
    3: { participant_id: "p1", kind: "video" },
    4: { participant_id: "p2", kind: "video" },
  };
  const remote = remoteTracks(all, tracks, [ownAudio, ownVideo]);
  assert.deepEqual([...remote.keys()], ["p1"]);
  const p1 = remote.get("p1");
  assert.equal(p1.audio.id, "track-2");
  assert.equal(p1.video.id, "track-3");
  assert.equal(p1.receiver, all[2].receiver, "the audio receiver gives the speaking level");
});

test("low video: a quarter of the pixels at 150 kbit/s, then back", () => {
  const params = { encodings: [{ active: true }] };
  assert.deepEqual(videoParameters(params, { low: true }),
    { encodings: [{ active: true, maxBitrate: 150_000, scaleResolutionDownBy: 2 }] });
  assert.deepEqual(videoParameters(params, { low: false }), { encodings: [{ active: true, scaleResolutionDownBy: 1 }] });
});

test("an ID check keeps every pixel, on a weak link too, and gives the browser its default back", () => {
  const params = { encodings: [{ active: true }] };
  assert.deepEqual(videoParameters(params, { card: true }),
    { encodings: [{ active: true, scaleResolutionDownBy: 1 }], degradationPreference: "maintain-resolution" });
  // A weak link keeps its bitrate cap, not its quarter of the pixels: fewer frames instead.
  assert.deepEqual(videoParameters(params, { low: true, card: true }), {
    encodings: [{ active: true, maxBitrate: 150_000, scaleResolutionDownBy: 1 }],
    degradationPreference: "maintain-resolution",
  });
  // After the check: unset, as the browser had it (Chromium then keeps a camera's frame rate).
  const after = videoParameters(params, { low: true });
  assert.ok(!("degradationPreference" in after));
  assert.deepEqual(after.encodings, [{ active: true, maxBitrate: 150_000, scaleResolutionDownBy: 2 }]);
});

test("Opus asks for in-band FEC and DTX, keeping what the browser wrote", () => {
  const sdp = ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111 63", "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1", "a=rtpmap:63 red/48000/2", "a=fmtp:63 111/111",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=rtpmap:96 VP8/90000", ""].join("\r\n");
  const out = withOpusParameters(sdp).split("\r\n");
  assert.ok(out.includes("a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1"));
  assert.ok(out.includes("a=fmtp:63 111/111")); // RED untouched
  assert.equal(out.length, sdp.split("\r\n").length);
  assert.equal(withOpusParameters(withOpusParameters(sdp)), withOpusParameters(sdp)); // idempotent
});

test("an Opus payload type without fmtp gets one; a refusal (usedtx=0) is kept", () => {
  const sdp = "m=audio 9 RTP/AVP 96 97\na=rtpmap:96 OPUS/48000/2\na=rtpmap:97 opus/48000/2\na=fmtp:97 usedtx=0\n";
  assert.equal(withOpusParameters(sdp),
    "m=audio 9 RTP/AVP 96 97\na=rtpmap:96 OPUS/48000/2\na=fmtp:96 useinbandfec=1;usedtx=1\n" +
    "a=rtpmap:97 opus/48000/2\na=fmtp:97 usedtx=0;useinbandfec=1\n");
});
