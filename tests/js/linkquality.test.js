// The connection indicator's logic (rooms/static/rooms/js/linkquality.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LinkMonitor, LinkPolicy, snapshot } from "../../rooms/static/rooms/js/linkquality.js";
import { PlayoutTarget } from "../../rooms/static/rooms/js/playout.js";

// A getStats report at `at` ms: audio and video received, our audio sent, the server's
// receiver report of it, the selected candidate pair.
function report(at, o = {}) {
  const audioIn = o.audioIn ?? at / 20; // 50 packets/s
  return [
    { type: "transport", timestamp: at, selectedCandidatePairId: "p" },
    { type: "candidate-pair", id: "p", timestamp: at, currentRoundTripTime: o.pairRtt ?? 0.02,
      responsesReceived: o.responses ?? Math.floor(at / 2500), bytesReceived: o.pairBytes ?? at * 100,
      lastPacketReceivedTimestamp: o.lastPair ?? at },
    { type: "inbound-rtp", kind: "audio", timestamp: at, packetsReceived: audioIn, packetsLost: o.audioLost ?? 0,
      lastPacketReceivedTimestamp: o.lastIn ?? at, jitterBufferDelay: o.jbDelay ?? audioIn * 0.04,
      jitterBufferEmittedCount: audioIn, concealedSamples: o.concealed ?? 0, totalSamplesReceived: audioIn * 960 },
    { type: "inbound-rtp", kind: "video", timestamp: at, packetsReceived: o.videoIn ?? at / 10, packetsLost: 0,
      lastPacketReceivedTimestamp: o.lastIn ?? at, freezeCount: o.freezes ?? 0, totalFreezesDuration: o.frozen ?? 0,
      jitterBufferDelay: o.vjbDelay ?? at / 50 * 0.08, jitterBufferEmittedCount: at / 50 },
    { type: "outbound-rtp", kind: "audio", timestamp: at, packetsSent: o.sent ?? at / 20 },
    { type: "remote-inbound-rtp", kind: "audio", timestamp: at, packetsLost: o.upLost ?? 0,
      roundTripTime: o.rtt ?? 0.02, roundTripTimeMeasurements: o.rttCount ?? Math.floor(at / 1000) },
  ];
}

// Feed readings every second from 1 s to `until` s; return the last result.
function run(monitor, until, options = () => ({})) {
  let result;
  for (let t = 1; t <= until; t++) result = monitor.update(report(t * 1000, options(t)));
  return result;
}

test("a clean link is good, both ways", () => {
  const result = run(new LinkMonitor(), 5);
  assert.deepEqual([result.level, result.down, result.up, result.reasons], ["good", "good", "good", []]);
});

test("nothing arriving for 1 s is poor, even with the last RTT still in the stats and 0/0 loss", () => {
  const monitor = new LinkMonitor();
  run(monitor, 5);
  // Outage from 5 s: counters frozen, the stale RTT and its count unchanged.
  const frozen = (t) => (t > 5 ? { audioIn: 250, videoIn: 500, lastIn: 5000, lastPair: 5000, pairBytes: 500000,
    sent: 250 + (t - 5) * 50, rttCount: 5, responses: 2 } : {});
  assert.equal(monitor.update(report(5500, frozen(6))).level, "good"); // 0.5 s: not yet
  const result = monitor.update(report(6000, frozen(6)));
  assert.equal(result.level, "poor");
  assert.deepEqual(result.reasons, ["silent"]);
  assert.deepEqual(monitor.history.slice(-2).map((r) => r.silentMs), [500, 1000]);
});

test("alone in the call: the transport's silence counts, after 3 s", () => {
  const alone = (at, last) => [{ type: "candidate-pair", id: "p", nominated: true, state: "succeeded", timestamp: at,
    currentRoundTripTime: 0.02, responsesReceived: 1, bytesReceived: last * 10, lastPacketReceivedTimestamp: last }];
  const monitor = new LinkMonitor();
  assert.equal(monitor.update(alone(1000, 1000)).level, "good");
  assert.equal(monitor.update(alone(3500, 1000)).level, "good");
  assert.equal(monitor.update(alone(4000, 1000)).level, "poor");
});

test("loss each way, from counters since the last reading", () => {
  const down = run(new LinkMonitor(), 3, (t) => ({ audioLost: t * 5 })); // 5 lost per 50 received + 100 video
  assert.equal(down.down, "average");
  assert.deepEqual(down.reasons, ["loss"]);
  const up = run(new LinkMonitor(), 3, (t) => ({ upLost: t * 10 })); // 10 of 50 sent
  assert.deepEqual([up.up, up.down, up.level], ["poor", "good", "poor"]);
});

test("a round trip counts only when measured again", () => {
  const monitor = new LinkMonitor();
  run(monitor, 3);
  // A huge RTT measured once long ago and never again: not used.
  assert.equal(monitor.update(report(4000, { rtt: 0.9, rttCount: 3, responses: 1 })).level, "good");
  assert.equal(monitor.update(report(5000, { rtt: 0.9, rttCount: 4 })).level, "poor");
});

test("freezes, jitter-buffer delay and concealment degrade the level", () => {
  assert.equal(run(new LinkMonitor(), 3, (t) => ({ freezes: t > 2 ? 1 : 0 })).level, "average");
  assert.equal(run(new LinkMonitor(), 3, (t) => ({ freezes: t > 2 ? 2 : 0 })).level, "poor");
  // 150 ms mean audio delay (the 400 kbit/s link of the issue, once called "good").
  const slow = run(new LinkMonitor(), 3, (t) => ({ jbDelay: t * 50 * 0.15 }));
  assert.deepEqual([slow.level, slow.reasons], ["average", ["delay"]]);
  assert.equal(Math.round(slow.audioDelayMs), 150); // the video buffer's guard reads it (playout.js)
  assert.equal(run(new LinkMonitor(), 1).audioDelayMs, null); // one reading: nothing over it yet
  // The video buffer's, apart from the audio's (playout.js: whether its target holds the video).
  assert.equal(Math.round(slow.videoDelayMs), 80);
  assert.equal(Math.round(run(new LinkMonitor(), 3, (t) => ({ vjbDelay: t * 20 * 0.3 })).videoDelayMs), 300);
  assert.equal(run(new LinkMonitor(), 1).videoDelayMs, null);
  const concealed = run(new LinkMonitor(), 3, (t) => ({ concealed: t * 50 * 960 * 0.1 }));
  assert.deepEqual([concealed.level, concealed.reasons], ["poor", ["concealment"]]);
});

test("worse at once, better only after 3 s", () => {
  const monitor = new LinkMonitor();
  const lossy = (t) => ({ upLost: Math.min(t, 4) * 10 }); // 10 of 50 lost each second until 4 s
  const levels = [];
  for (let t = 1; t <= 9; t++) levels.push(monitor.update(report(t * 1000, lossy(t))).level);
  assert.deepEqual(levels, ["good", "poor", "poor", "poor", "poor", "poor", "poor", "good", "good"]);
});

test("the snapshot sums every stream and ignores pairs not selected", () => {
  const s = snapshot([...report(2000), { type: "candidate-pair", id: "q", currentRoundTripTime: 5 }]);
  assert.deepEqual([s.inStreams, s.inPackets, s.pairRtt, s.at], [2, 300, 0.02, 2000]);
});

const reading = (level, reasons = [], own = level, severe = own === "poor", frozenMs = 0) => ({ level, reasons, own, severe, frozenMs });
const froze = (ms, own = "average") => reading("average", ["freeze"], own, false, ms);

test("advice each time the level gets worse, not while it stays, not twice within 15 s", () => {
  const policy = new LinkPolicy();
  const advised = ["good", "average", "average", "poor", "good", "poor", "unknown", "average"]
    .map((level, i) => policy.step(reading(level), i * 15000, false).advise);
  assert.deepEqual(advised, [false, true, false, true, false, true, false, true]);
  const flapping = new LinkPolicy();
  const told = ["good", "poor", "good", "poor", "good", "poor"].map((level, i) => flapping.step(reading(level), i * 4000, false).advise);
  assert.deepEqual(told, [false, true, false, false, false, true]); // at 4 s, then at 20 s
});

test("audio only after 10 s of poor quality, once; counted afresh after video is back", () => {
  const policy = new LinkPolicy();
  const switched = [];
  for (let t = 0; t <= 10; t++) switched.push(policy.step(reading("poor"), t * 1000, false).audioOnly);
  assert.deepEqual(switched.map((s, t) => s && t).filter(Boolean), [10]);
  assert.equal(policy.step(reading("poor"), 11000, true).audioOnly, false); // audio only now
  // The user taps back to video: another 10 s of poor are needed.
  assert.equal(policy.step(reading("poor"), 12000, false).audioOnly, false);
  assert.equal(policy.step(reading("poor"), 21000, false).audioOnly, false);
  assert.equal(policy.step(reading("poor"), 22000, false).audioOnly, true);
});

test("10% loss is poor but not severe: video goes on; 20% is severe", () => {
  const ten = run(new LinkMonitor(), 3, (t) => ({ upLost: t * 5 }));
  assert.deepEqual([ten.level, ten.own, ten.severe], ["poor", "poor", false]);
  const twenty = run(new LinkMonitor(), 4, (t) => ({ upLost: t * 10 })); // judged over 3 s
  assert.equal(twenty.severe, true);
  const policy = new LinkPolicy();
  for (let t = 0; t <= 30; t++) assert.equal(policy.step(ten, t * 1000, false).audioOnly, false);
});

test("3 s without a severe reading reset the sustained count; one or two do not", () => {
  const policy = new LinkPolicy();
  for (let t = 0; t < 7; t++) policy.step(reading("poor"), t * 1000, false);
  for (let t = 7; t < 10; t++) policy.step(reading("average"), t * 1000, false);
  assert.equal(policy.step(reading("poor"), 10000, false).audioOnly, false);
  // A severe spell with one reading in two missing its loss figure (a lost receiver report).
  const gappy = new LinkPolicy();
  const switched = [];
  for (let t = 0; t <= 10; t++) switched.push(gappy.step(reading(t % 2 ? "good" : "poor"), t * 1000, false).audioOnly);
  assert.deepEqual(switched.map((s, t) => s && t).filter(Boolean), [10]);
});

test("the other side's bad link (freezes, concealment, our own hop clean) never switches us", () => {
  const policy = new LinkPolicy();
  for (let t = 0; t <= 60; t++) {
    assert.equal(policy.step(reading("poor", ["freeze", "concealment"], "good"), t * 1000, false).audioOnly, false);
  }
  const monitor = new LinkMonitor();
  const result = run(monitor, 3, (t) => ({ concealed: t * 50 * 960 * 0.1, freezes: t > 2 ? 2 : 0 }));
  assert.deepEqual([result.level, result.own], ["poor", "good"]);
});

test("audio only once freezes add up to 5 s within 30 s", () => {
  const policy = new LinkPolicy();
  assert.equal(policy.step(froze(2000), 0, false).audioOnly, false);
  assert.equal(policy.step(froze(2000), 20000, false).audioOnly, false);
  assert.equal(policy.step(froze(2000), 41000, false).audioOnly, false); // the first one too old: 4 s
  assert.equal(policy.step(froze(1000), 45000, false).audioOnly, true); // 5 s
});

test("a few short freezes (what 10% loss with NACK gives) keep video", () => {
  const policy = new LinkPolicy();
  // 3 freezes in 3 s, 0.8 s in all (the weak-network bench before this rule), then one
  // 0.3 s freeze every 5 s: 2.6 s frozen in any 30 s.
  for (let t = 1; t <= 3; t++) assert.equal(policy.step(froze(270), t * 1000, false).audioOnly, false);
  for (let t = 5; t <= 120; t += 5) assert.equal(policy.step(froze(300), t * 1000, false).audioOnly, false);
});

test("the monitor reports the time frozen in freezes that ended, and it switches", () => {
  const monitor = new LinkMonitor();
  const policy = new LinkPolicy();
  // 10% loss on our own hop, and a 1.5 s freeze ending every 2 s.
  const options = (t) => ({ upLost: t * 5, freezes: Math.floor(t / 2), frozen: Math.floor(t / 2) * 1.5 });
  const switchedAt = [];
  for (let t = 1; t <= 12; t++) {
    const result = monitor.update(report(t * 1000, options(t)));
    if (t % 2 === 0 && t > 2) assert.equal(result.frozenMs, 1500);
    if (policy.step(result, t * 1000, false).audioOnly) switchedAt.push(t);
  }
  assert.deepEqual(switchedAt, [8]); // 1.5 s frozen at 2, 4, 6, 8 s: 6 s in all by 8 s
});

test("10% loss whose receiver reports come unevenly is never severe: judged over 3 s, not per reading", () => {
  // Readings every 500 ms, 25 packets sent in each; the server's report of our 10% loss
  // comes once a second (5 lost), one in four is lost and the next carries both (10 lost):
  // per reading that was 20% or 40%, "severe", and the page switched to audio only.
  const monitor = new LinkMonitor();
  const policy = new LinkPolicy();
  let upLost = 0;
  let severe = 0;
  for (let i = 1; i <= 80; i++) {
    const reportIn = i % 2 === 0 && i % 8 !== 0; // every second, the 4th one lost
    if (reportIn) upLost += i % 8 === 2 ? 10 : 5; // the one after the lost report: two seconds
    const result = monitor.update(report(i * 500, { upLost }));
    if (result.severe) severe += 1;
    assert.equal(policy.step(result, i * 500, false).audioOnly, false);
  }
  assert.equal(severe, 0);
  // 30% (the browser test's profile) is still severe.
  const thirty = run(new LinkMonitor(), 4, (t) => ({ upLost: t * 15 }));
  assert.equal(thirty.severe, true);
});

// A stream's cumulative count must not jump into a window when the stream comes or goes
// (its cause in the 10% loss bench was another: the next test). Here the server's report on
// our video is missing from one reading in four: per stream, loss is counted only where a
// stream is in both readings, so it reads 10%, never "severe".
test("a stream's report missing from some readings does not count its whole loss at once", () => {
  const monitor = new LinkMonitor();
  const policy = new LinkPolicy();
  let worst = 0;
  for (let i = 1; i <= 80; i++) {
    const at = i * 500;
    const stats = report(at, { upLost: Math.floor(at / 200) }); // audio: 5 of 50 a second
    stats.push({ type: "outbound-rtp", kind: "video", ssrc: 2, timestamp: at, packetsSent: at / 5 }); // 200/s
    if (i % 4) stats.push({ type: "remote-inbound-rtp", kind: "video", ssrc: 2, timestamp: at, packetsLost: at / 50 });
    const result = monitor.update(stats);
    worst = Math.max(worst, result.windowLoss?.up ?? 0);
    assert.equal(result.severe, false, `severe at ${at} ms: ${JSON.stringify(result.windowLoss)}`);
    assert.equal(policy.step(result, at, false).audioOnly, false);
  }
  assert.ok(worst > 0.09 && worst < 0.12, `up loss ${worst}`);
});

// The same bench: the server's report on a stream read 0 in some reports and its true
// cumulative loss in the others (the raw series the bench prints).
test("a stream's cumulative loss read as 0 now and then is not taken back, nor counted again", () => {
  const monitor = new LinkMonitor();
  let worst = 0;
  for (let i = 1; i <= 80; i++) {
    const at = i * 500;
    const result = monitor.update(report(at, { upLost: i % 4 === 0 ? 0 : Math.floor(at / 200) })); // 10%
    worst = Math.max(worst, result.windowLoss?.up ?? 0);
    assert.equal(result.severe, false, `severe at ${at} ms: ${JSON.stringify(result.windowLoss)}`);
  }
  assert.ok(worst > 0.09 && worst < 0.15, `up loss ${worst}`);
});

// Readings every 500 ms with a 1.5 s outage from 5 s (counters still, the last packet at 5 s);
// when packets come back the sequence gap shows as 75 audio and 150 video packets lost, and the
// video's freeze (the outage and the keyframe after it) ends then. `freezeAt`: a later freeze.
function outageReports(until, freezeAt = null) {
  const reports = [];
  for (let at = 500; at <= until; at += 500) {
    const out = at > 5000 && at <= 6500;
    const after = at > 6500;
    const late = freezeAt != null && at >= freezeAt;
    reports.push(report(at, out
      ? { audioIn: 250, videoIn: 500, lastIn: 5000, lastPair: 5000, pairBytes: 500000, sent: at / 20, rttCount: 5, responses: 2 }
      : { audioIn: after ? at / 20 - 75 : at / 20, videoIn: after ? at / 10 - 150 : at / 10, audioLost: after ? 75 : 0,
        freezes: (after ? 1 : 0) + (late ? 1 : 0), frozen: (after ? 1.5 : 0) + (late ? 0.5 : 0) }));
  }
  return reports;
}

test("an outage's freeze and its lost packets are the outage's: no buffer raised, no loss, no audio only", () => {
  const monitor = new LinkMonitor();
  const policy = new LinkPolicy();
  const target = new PlayoutTarget();
  for (const [i, stats] of outageReports(30000).entries()) {
    const at = (i + 1) * 500;
    const result = monitor.update(stats);
    if (at === 6000) assert.deepEqual([result.level, result.severe], ["poor", true]); // silent: told at once
    if (at === 7000) { // packets back, the freeze ended: shown, but not a late frame's
      assert.deepEqual([result.freezes, result.frozenMs, result.outageFrozenMs, result.loss], [0, 0, 1500, null]);
      assert.ok(result.reasons.includes("freeze"));
    }
    if (at > 7000) assert.equal(result.severe, false, `severe at ${at}`); // the gap is not 33% loss in the window
    assert.equal(target.update(result, at), null);
    assert.equal(policy.step(result, at, false).audioOnly, false);
  }
  assert.equal(monitor.history.at(-1).level, "good");
});

test("a freeze after the outage's recovery is a freeze again", () => {
  const monitor = new LinkMonitor();
  const results = outageReports(12000, 10000).map((stats) => monitor.update(stats));
  const late = results.find((r) => r.at === 10000);
  assert.deepEqual([late.freezes, late.frozenMs, late.outageFrozenMs], [1, 500, 0]);
  assert.notEqual(new PlayoutTarget().update(late, 10000), null); // the buffer covers it
});
