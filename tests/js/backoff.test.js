// Reconnection delays (rooms/static/rooms/js/backoff.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FLOOR, retryDelay } from "../../rooms/static/rooms/js/backoff.js";

test("full jitter: anywhere from the floor to the window 1, 2, 4, 8, 10 s", () => {
  const windows = [1000, 2000, 4000, 8000, 10000, 10000];
  windows.forEach((window, attempt) => {
    assert.equal(retryDelay(attempt, { random: () => 0 }), FLOOR);
    assert.equal(retryDelay(attempt, { random: () => 0.999999 }), window - 1);
  });
});

test("a crowd dropped at once comes back spread over the window", () => {
  const delays = Array.from({ length: 1000 }, () => retryDelay(3));
  const seconds = new Set(delays.map((d) => Math.floor(d / 1000)));
  assert.deepEqual([...seconds].sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(delays.every((d) => d >= FLOOR && d < 8000));
});

test("BUSY's hint widens the window, from its half: the refused crowd comes back after those let wait", () => {
  assert.equal(retryDelay(0, { hint: 3, random: () => 0 }), 1500);
  assert.equal(retryDelay(0, { hint: 3, random: () => 0.999999 }), 4000 - 1);
  assert.equal(retryDelay(2, { hint: 3, random: () => 0.5 }), 1500 + Math.floor(0.5 * (7000 - 1500)));
  assert.equal(retryDelay(0, { hint: 0.25, random: () => 0 }), FLOOR, "never under the floor");
  assert.equal(retryDelay(0, { hint: -5, random: () => 0 }), FLOOR, "a nonsense hint is no hint");
  assert.equal(retryDelay(0, { hint: -5, random: () => 0.999999 }), 1000 - 1);
  const delays = Array.from({ length: 1000 }, () => retryDelay(0, { hint: 9 }));
  const seconds = new Set(delays.map((d) => Math.floor(d / 1000)));
  assert.deepEqual([...seconds].sort((a, b) => a - b), [4, 5, 6, 7, 8, 9], "spread over 4.5-10 s, none before");
});
