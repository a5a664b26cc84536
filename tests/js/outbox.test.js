// The chat outbox (rooms/static/rooms/js/outbox.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Outbox, newId } from "../../rooms/static/rooms/js/outbox.js";

test("ids are 32 hex characters, all different", () => {
  const ids = new Set(Array.from({ length: 500 }, newId));
  assert.equal(ids.size, 500);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
});

test("a message stays until acknowledged, and is sent again in order", () => {
  let n = 0;
  const outbox = new Outbox({ makeId: () => `m${++n}` });
  const first = outbox.add({ type: "chat.send", text: "bonjour" });
  const second = outbox.add({ type: "chat.send", text: "vous m'entendez ?" });
  assert.deepEqual(first, { type: "chat.send", text: "bonjour", id: "m1" });
  assert.deepEqual(outbox.unacknowledged(), [first, second]);
  outbox.acknowledged("m1");
  assert.deepEqual(outbox.unacknowledged(), [second]);
  outbox.acknowledged("m1"); // twice (echo and ack): harmless
  outbox.acknowledged("unknown");
  assert.deepEqual(outbox.unacknowledged(), [second]);
  outbox.acknowledged("m2");
  assert.deepEqual(outbox.unacknowledged(), []);
});

test("an incoming message is shown once per id; one without id always", () => {
  const outbox = new Outbox();
  assert.equal(outbox.firstSight({ id: "a" }), true);
  assert.equal(outbox.firstSight({ id: "a" }), false, "the replayed copy of a live message");
  assert.equal(outbox.firstSight({ id: "b" }), true);
  assert.equal(outbox.firstSight({}), true);
  assert.equal(outbox.firstSight({}), true);
});
