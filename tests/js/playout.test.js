// The video jitter-buffer target (rooms/static/rooms/js/playout.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PLAYOUT, PlayoutTarget, applyPlayout } from "../../rooms/static/rooms/js/playout.js";

test("a clean link leaves the browser's own buffer", () => {
  const target = new PlayoutTarget();
  for (let t = 0; t < 60; t++) assert.equal(target.update({ loss: 0, rtt: 0.02 }, t * 1000), null);
  assert.equal(target.ms, 0);
});

test("freezes raise the buffer to cover them, by steps, up to the cap", () => {
  const target = new PlayoutTarget();
  assert.equal(target.update({ freezes: 1, frozenMs: 160 }, 0), 200); // the freeze's length
  assert.equal(target.update({ freezes: 1, frozenMs: 120 }, 1000), 300); // a step more
  assert.equal(target.update({ freezes: 2, frozenMs: 1600 }, 2000), null); // capped
  assert.equal(target.ms, PLAYOUT.maxMs);
});

test("loss on our own hop covers a round trip of repair and a margin before any freeze", () => {
  const target = new PlayoutTarget();
  assert.equal(target.update({ loss: 0.1, rtt: 0.16 }, 0), 300); // 240 ms, rounded up by steps
  const mild = new PlayoutTarget();
  assert.equal(mild.update({ loss: 0.1, rtt: 0.06 }, 0), 100);
  assert.equal(new PlayoutTarget().update({ loss: 0.01, rtt: 0.16 }, 0), null); // below the floor
  assert.equal(new PlayoutTarget().update({ loss: 0.1, rtt: null }, 0), null); // no round trip known
});

test("a calm spell lowers it one step at a time, and a freeze or loss restarts the wait", () => {
  const target = new PlayoutTarget();
  target.update({ freezes: 1, frozenMs: 300 }, 0);
  assert.equal(target.update({}, PLAYOUT.calmMs - 1000), null);
  assert.equal(target.update({ loss: 0.05, rtt: 0.05 }, PLAYOUT.calmMs), null); // lossy: not calm
  assert.equal(target.update({}, 2 * PLAYOUT.calmMs - 1000), null);
  assert.equal(target.update({}, 2 * PLAYOUT.calmMs), 200);
  assert.equal(target.update({}, 3 * PLAYOUT.calmMs), 100);
  assert.equal(target.update({}, 4 * PLAYOUT.calmMs), 0);
  assert.equal(target.update({}, 5 * PLAYOUT.calmMs), null);
});

test("applied to video receivers only, 0 giving the buffer back to the browser", () => {
  const video = { track: { kind: "video" }, jitterBufferTarget: null };
  const audio = { track: { kind: "audio" }, jitterBufferTarget: null };
  const old = { track: { kind: "video" } }; // a browser without the attribute
  const pc = { getReceivers: () => [video, audio, old] };
  applyPlayout(pc, 300);
  assert.deepEqual([video.jitterBufferTarget, audio.jitterBufferTarget, "jitterBufferTarget" in old], [300, null, false]);
  applyPlayout(pc, 0);
  assert.equal(video.jitterBufferTarget, null);
});

// The audio's delay against its best (30 ms here) and the budget: within it, and over it.
const BEST = 30;
const within = (ms = 0) => BEST + PLAYOUT.audioBudgetMs - 20 - ms;
const over = (ms = 0) => BEST + PLAYOUT.audioBudgetMs + 20 + ms;

// The agent's audio at 10% loss + 80 ms: ≈ 30 ms clean, 80 ms without the rule, 280-390 ms
// with a 300 ms video target (bench/weak_network_bench.py).
test("audio over budget: the target is not raised, and lowered a step per gap", () => {
  const target = new PlayoutTarget();
  assert.equal(target.update({ audioDelayMs: BEST }, 0), null); // the audio's best
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: 80 }, 1000), 300);
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: within() }, 2000), null);
  assert.equal(target.update({ freezes: 1, frozenMs: 400, audioDelayMs: over(50) }, 3000), 200);
  assert.equal(target.update({ freezes: 1, frozenMs: 400, audioDelayMs: over(30) }, 4000), null); // the audio follows
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: over() }, 3000 + PLAYOUT.audioGapMs), 100);
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: within() }, 6000), null); // within: held at the cap
  assert.equal(target.ms, 100);
});

test("audio over budget before any raise: the target stays the browser's own", () => {
  const target = new PlayoutTarget();
  target.update({ audioDelayMs: BEST }, 0);
  for (let t = 1; t < 10; t++) assert.equal(target.update({ freezes: 1, frozenMs: 300, loss: 0.1, rtt: 0.16, audioDelayMs: over(100) }, t * 1000), null);
  assert.equal(target.ms, 0);
});

test("the cap comes back a step after the audio stayed within budget a calm spell", () => {
  const target = new PlayoutTarget();
  target.update({ audioDelayMs: BEST }, 0);
  target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: 80 }, 1000); // 300
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: over(100) }, 2000), 200);
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: 200 }, 2000 + PLAYOUT.calmMs - 1000), null);
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: 200 }, 2000 + PLAYOUT.calmMs), 300);
});

// 10% loss + 80 ms (bench, agent): a target of 200 then 100 while Chromium's own video buffer
// sat at 500-740 ms after the loss began; cutting them held the target at 0 for 20 s of freezes.
test("audio over budget while the browser's own buffer holds the video above the target: not lowered", () => {
  const target = new PlayoutTarget();
  target.update({ audioDelayMs: BEST }, 0);
  target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: 80, videoDelayMs: 90 }, 1000); // 300
  assert.equal(target.update({ audioDelayMs: over(100), videoDelayMs: 600 }, 2000), null); // not ours
  assert.equal(target.update({ audioDelayMs: over(100), videoDelayMs: 360 }, 3000), null);
  assert.equal(target.ms, 300);
  assert.equal(target.update({ audioDelayMs: over(100), videoDelayMs: 340 }, 4000), 200); // within the margin: ours
  assert.equal(target.update({ loss: 0.1, rtt: 0.16, audioDelayMs: over(100), videoDelayMs: 600 }, 9000), null); // nor raised
  assert.equal(target.ms, 200);
});
