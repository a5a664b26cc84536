// Close codes and backoff (rooms/static/rooms/js/codes.js), under Node. That they match
// PROTOCOL.md and the server is tests/rooms/test_close_codes.py.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CLOSE, FINAL, backoff } from "../../rooms/static/rooms/js/codes.js";

test("only the server's decisions are final", () => {
  assert.deepEqual([...FINAL].sort(), [CLOSE.NO_SESSION, CLOSE.REFUSED, CLOSE.ENDED, CLOSE.REPLACED].sort());
  assert.ok(!FINAL.has(CLOSE.DROPPED));
  assert.ok(!FINAL.has(CLOSE.NORMAL));
  assert.ok(!FINAL.has(CLOSE.BUSY), "BUSY: the browser comes back after the hint");
  assert.ok(!FINAL.has(CLOSE.UNAVAILABLE), "UNAVAILABLE: the browser comes back (Redis down)");
  assert.throws(() => { CLOSE.ENDED = 1; }, TypeError);
});

test("backoff: 1, 2, 4, 8, then 10 s", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 20].map(backoff), [1000, 2000, 4000, 8000, 10000, 10000, 10000]);
});

