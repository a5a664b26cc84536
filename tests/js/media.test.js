// The peer connection's pure helpers (rooms/static/rooms/js/media.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lowEncodings, remoteTracks } from "../../rooms/static/rooms/js/media.js";

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
  const encodings = [{ active: true }];
  assert.deepEqual(lowEncodings(encodings, true), [{ active: true, maxBitrate: 150_000, scaleResolutionDownBy: 2 }]);
  assert.deepEqual(lowEncodings(encodings, false), [{ active: true, scaleResolutionDownBy: 1 }]);
});
