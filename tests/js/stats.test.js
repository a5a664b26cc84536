// Reading getStats (rooms/static/rooms/js/stats.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { qualityLevel, receivedBy, summarize } from "../../rooms/static/rooms/js/stats.js";

const pair = (id, rtt, extra = {}) => ({ type: "candidate-pair", id, currentRoundTripTime: rtt, ...extra });
const inbound = (mid, kind, extra) => ({ type: "inbound-rtp", mid, kind, ...extra });

test("the round trip of the selected candidate pair", () => {
  const stats = [
    { type: "transport", selectedCandidatePairId: "b" },
    pair("a", 0.9, { nominated: true, state: "succeeded" }),
    pair("b", 0.05),
  ];
  assert.equal(summarize(stats).rtt, 0.05);
});

test("without a transport's selection, the nominated succeeded pair", () => {
  const stats = [pair("a", 0.9, { state: "failed" }), pair("b", 0.2, { nominated: true, state: "succeeded" })];
  assert.equal(summarize(stats).rtt, 0.2);
});

test("loss is counted since the previous measure", () => {
  const first = summarize([pair("a", 0.1, { nominated: true, state: "succeeded" }),
    inbound("0", "audio", { packetsLost: 10, packetsReceived: 990 })]);
  assert.equal(first.loss, 0.01);
  assert.equal(first.level, "good");
  const second = summarize([pair("a", 0.1, { nominated: true, state: "succeeded" }),
    inbound("0", "audio", { packetsLost: 30, packetsReceived: 1070 })], first);
  assert.equal(second.loss, 0.2);
  assert.equal(second.level, "poor");
  assert.deepEqual([second.lost, second.received], [30, 1070]);
});

test("no round trip yet: unknown, whatever the loss", () => {
  const result = summarize([inbound("0", "video", { packetsLost: 0, packetsReceived: 0 })]);
  assert.equal(result.rtt, null);
  assert.equal(result.loss, 0);
  assert.equal(result.level, "unknown");
});

test("quality levels", () => {
  assert.equal(qualityLevel(null, 0), "unknown");
  assert.equal(qualityLevel(0.29, 0.019), "good");
  assert.equal(qualityLevel(0.3, 0), "average");
  assert.equal(qualityLevel(0.1, 0.02), "average");
  assert.equal(qualityLevel(0.6, 0), "poor");
  assert.equal(qualityLevel(0.1, 0.08), "poor");
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
