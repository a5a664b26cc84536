// Live guidance wording (rooms/static/rooms/js/idcheck.js), under Node: every hint code the
// reader gives (media/idcheck/guidance.py Hint) has its own words; unknown codes say nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { HINTS, hintText } from "../../rooms/static/rooms/js/idcheck.js";

const CODES = ["show_mrz", "in_frame", "closer", "glare", "hold_still", "straighten", "reading"];

test("each hint code has its own words", () => {
  assert.deepEqual(Object.keys(HINTS).sort(), [...CODES].sort());
  const words = CODES.map(hintText);
  assert.equal(new Set(words).size, CODES.length);
  for (const w of words) assert.ok(w.length > 3, w);
  assert.equal(hintText("closer"), "Bring the card closer");
});

test("an unknown or missing code shows nothing", () => {
  assert.equal(hintText("something_new"), "");
  assert.equal(hintText(null), "");
  assert.equal(hintText("__proto__"), "");
});
