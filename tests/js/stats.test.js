// Reading getStats (rooms/static/rooms/js/stats.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { receivedBy, roundTrip } from "../../rooms/static/rooms/js/stats.js";

const pair = (id, rtt, extra = {}) => ({ type: "candidate-pair", id, currentRoundTripTime: rtt, ...extra });
const inbound = (mid, kind, extra) => ({ type: "inbound-rtp", mid, kind, ...extra });

test("the round trip of the selected candidate pair", () => {
  const stats = [
    { type: "transport", selectedCandidatePairId: "b" },
    pair("a", 0.9, { nominated: true, state: "succeeded" }),
    pair("b", 0.05),
  ];
  assert.equal(roundTrip(stats), 0.05);
});

test("without a transport's selection, the nominated succeeded pair", () => {
  const stats = [pair("a", 0.9, { state: "failed" }), pair("b", 0.2, { nominated: true, state: "succeeded" })];
  assert.equal(roundTrip(stats), 0.2);
});

test("no round trip measured yet: null", () => {
  assert.equal(roundTrip([inbound("0", "video", { packetsLost: 0, packetsReceived: 0 }),
    pair("a", 0.3, { state: "in-progress" })]), null);
});

test("what is received, per participant, through the server's tracks map", () => {
  const tracks = { 2: { participant_id: "p1", kind: "audio" }, 3: { participant_id: "p1", kind: "video" },
    4: { participant_id: "p2", kind: "video" } };
  const stats = [
    inbound("2", "audio", { totalAudioEnergy: 0.5 }),
    inbound("3", "video", { framesDecoded: 40 }),
    inbound("4", "video", {}),
    inbound("9", "video", { framesDecoded: 99 }), // a mid the server did not name
    { type: "outbound-rtp", mid: "3", framesEncoded: 7 },
  ];
  assert.deepEqual(receivedBy(stats, tracks), {
    p1: { framesDecoded: 40, audioEnergy: 0.5 },
    p2: { framesDecoded: 0, audioEnergy: 0 },
  });
});
