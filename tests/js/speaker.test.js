// Speaker view's choice (rooms/static/rooms/js/speaker.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  HANG, HOLD, SPEAKING_OFF, SPEAKING_ON, SpeakerPicker, TAKE_OVER, audioLevels,
} from "../../rooms/static/rooms/js/speaker.js";

const ME = "me";
const AGENT = "agent";
const OTHER = "other";
const LOUD = 0.2;
const levels = (entries) => new Map(Object.entries(entries));

// Readings every 400 ms (as the page does) from `start`; returns the speaker after each.
function readings(picker, shown, steps, start) {
  return steps.map((entries, i) => picker.update(levels(entries), shown, start + i * 400));
}

test("alone I am the speaker; as soon as someone else is there, never me", () => {
  const picker = new SpeakerPicker(ME);
  assert.equal(picker.update(new Map(), [ME], 0), ME, "alone");
  assert.equal(picker.update(new Map(), [ME, AGENT], 400), AGENT, "someone came: they replace me at once");
  // Even when I am the only one making noise (my level is never used).
  assert.equal(picker.update(levels({ [ME]: 0.9 }), [ME, AGENT], 800), AGENT);
  assert.equal(picker.update(new Map(), [ME], 1200), ME, "alone again");
  assert.equal(picker.update(new Map(), [], 1600), null, "no tile at all");
});

test("nobody has spoken: the first other tile, in the order shown", () => {
  const picker = new SpeakerPicker(ME);
  assert.equal(picker.update(new Map(), new Map([[ME, {}], [OTHER, {}], [AGENT, {}]]), 0), OTHER);
});

test("the first voice heard takes the tile of nobody at once", () => {
  const picker = new SpeakerPicker(ME);
  assert.equal(picker.update(levels({ [OTHER]: LOUD }), [ME, AGENT, OTHER], 0), OTHER);
});

test("the tile follows the active speaker after TAKE_OVER, not before", () => {
  const picker = new SpeakerPicker(ME);
  const shown = [ME, AGENT, OTHER];
  picker.update(new Map(), shown, 0); // the agent first (nobody speaks)
  const steps = Array(8).fill({ [OTHER]: LOUD });
  const got = readings(picker, shown, steps, HOLD); // the agent has held the tile long enough
  const switched = got.indexOf(OTHER);
  assert.ok(switched > 0, `switched at reading ${switched}: ${got}`);
  assert.ok(switched * 400 >= TAKE_OVER && (switched - 1) * 400 < TAKE_OVER, `${got}`);
  assert.deepEqual(got.slice(switched), Array(got.length - switched).fill(OTHER), "and stays");
});

test("a new speaker keeps the tile for HOLD even if another voice is louder", () => {
  const picker = new SpeakerPicker(ME);
  const shown = [ME, AGENT, OTHER];
  assert.equal(picker.update(levels({ [OTHER]: LOUD }), shown, 0), OTHER);
  const got = readings(picker, shown, Array(10).fill({ [AGENT]: LOUD, [OTHER]: 0.05 }), 400);
  const switched = got.indexOf(AGENT);
  assert.ok(400 + switched * 400 >= HOLD, `${got}`);
  assert.equal(got.at(-1), AGENT);
});

test("two voices taking turns faster than TAKE_OVER do not make the tile blink", () => {
  const picker = new SpeakerPicker(ME);
  const shown = [ME, AGENT, OTHER];
  picker.update(levels({ [AGENT]: LOUD }), shown, 0);
  const turns = Array.from({ length: 20 }, (_, i) => (i % 2 ? { [OTHER]: LOUD, [AGENT]: 0.03 } : { [AGENT]: LOUD, [OTHER]: 0.03 }));
  assert.deepEqual(new Set(readings(picker, shown, turns, 400)), new Set([AGENT]));
});

test("speaking is a hysteresis: on at SPEAKING_ON, off once below SPEAKING_OFF for HANG", () => {
  const picker = new SpeakerPicker(ME);
  const shown = [ME, AGENT];
  const between = (SPEAKING_ON + SPEAKING_OFF) / 2;
  const speaking = (level, now) => picker.update(levels({ [AGENT]: level }), shown, now) && picker.speaking.has(AGENT);
  assert.equal(speaking(between, 0), false, "not yet");
  assert.equal(speaking(SPEAKING_ON, 400), true);
  assert.equal(speaking(between, 800), true, "still: above the lower threshold");
  assert.equal(speaking(0, 1200), true, "a pause between two words");
  assert.equal(speaking(between, 1600), true, "speaking again: the pause is forgotten");
  assert.equal(speaking(0, 2000), true);
  assert.equal(speaking(0, 2000 + HANG - 1), true);
  assert.equal(speaking(0, 2000 + HANG), false, "silent for HANG: stopped");
  picker.update(levels({ [ME]: 1 }), shown, 9000);
  assert.equal(picker.speaking.has(ME), false, "my own level is not used");
});

test("quiet noise never takes the tile", () => {
  const picker = new SpeakerPicker(ME);
  const shown = [ME, AGENT, OTHER];
  picker.update(levels({ [AGENT]: LOUD }), shown, 0);
  const got = readings(picker, shown, Array(20).fill({ [OTHER]: SPEAKING_ON / 2 }), 400);
  assert.deepEqual(new Set(got), new Set([AGENT]));
});

test("the speaker leaves: the tile goes to whoever else is there at once", () => {
  const picker = new SpeakerPicker(ME);
  picker.update(levels({ [OTHER]: LOUD }), [ME, AGENT, OTHER], 0);
  assert.equal(picker.update(new Map(), [ME, AGENT], 400), AGENT);
});

test("audio levels: the mean level since the previous reading, per participant", () => {
  const remote = new Map([[AGENT, { audio: { id: "track-a" }, video: { id: "v" } }], [OTHER, { video: { id: "v2" } }]]);
  const stats = (energy, duration) => [
    { type: "inbound-rtp", kind: "audio", trackIdentifier: "track-a", totalAudioEnergy: energy, totalSamplesDuration: duration },
    { type: "inbound-rtp", kind: "video", trackIdentifier: "v" },
    { type: "inbound-rtp", kind: "audio", trackIdentifier: "someone-gone", totalAudioEnergy: 9, totalSamplesDuration: 9 },
    { type: "candidate-pair", state: "succeeded" },
  ];
  const first = audioLevels(stats(1, 10), remote);
  assert.deepEqual([...first.levels], [], "no level from one reading");
  assert.deepEqual([...first.totals.keys()], ["track-a"]);
  // 0.4 s at a level of 0.1: energy grows by 0.1² × 0.4.
  const second = audioLevels(stats(1 + 0.01 * 0.4, 10.4), remote, first.totals);
  assert.ok(Math.abs(second.levels.get(AGENT) - 0.1) < 1e-9, second.levels.get(AGENT));
  // An RTCStatsReport is a Map id → stats.
  const asMap = new Map(stats(1 + 0.01 * 0.4, 10.8).map((s, i) => [`s${i}`, s]));
  assert.equal(audioLevels(asMap, remote, second.totals).levels.get(AGENT), 0, "silence");
  // Nothing received since (no samples): no level rather than a division by zero.
  assert.equal(audioLevels(stats(2, 10.4), remote, second.totals).levels.has(AGENT), false);
});
