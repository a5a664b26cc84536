// Emoji reactions' lookup (rooms/static/rooms/js/reactions.js), under Node. The names
// match the server's (tests/rooms/test_room_tools.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { REACTIONS, reactionNamed, reactionText } from "../../rooms/static/rooms/js/reactions.js";

test("each reaction has its own name, emoji and a text label", () => {
  for (const key of ["name", "emoji"]) assert.equal(new Set(REACTIONS.map((r) => r[key])).size, REACTIONS.length);
  assert.equal(new Set(REACTIONS.map((r) => r.label())).size, REACTIONS.length);
  for (const r of REACTIONS) assert.match(r.label(), /^\p{L}[\p{L} ]+$/u, "a label is words, not an emoji");
});

test("a reaction is said with the sender's name and its label", () => {
  assert.equal(reactionText("thumbs_up", "Jeanne"), "Jeanne reacts: Agreed");
  assert.equal(reactionNamed("clap").emoji, "👏");
});

test("an unknown name is neither shown nor said", () => {
  assert.equal(reactionNamed("<img src=x>"), null);
  assert.equal(reactionText("constructor", "Jeanne"), null);
});
