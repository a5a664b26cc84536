// The shared notes' text helpers (rooms/static/rooms/js/notestext.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checklistAt, fromBase64, shiftPosition, textChange, toBase64 } from "../../rooms/static/rooms/js/notestext.js";

test("a keystroke, a deletion, a replaced selection, a paste", () => {
  assert.deepEqual(textChange("abc", "abXc", 3), { index: 2, remove: 0, insert: "X" });
  assert.deepEqual(textChange("abc", "ac", 1), { index: 1, remove: 1, insert: "" });
  assert.deepEqual(textChange("hello world", "hello there", 11), { index: 6, remove: 5, insert: "there" });
  assert.deepEqual(textChange("", "collé", 5), { index: 0, remove: 0, insert: "collé" });
  assert.deepEqual(textChange("same", "same", 4), { index: 4, remove: 0, insert: "" });
});

test("the caret settles which of repeated characters was typed", () => {
  assert.deepEqual(textChange("aa", "aaa", 1), { index: 0, remove: 0, insert: "a" });
  assert.deepEqual(textChange("aa", "aaa", 3), { index: 2, remove: 0, insert: "a" });
});

test("applying the change gives the new text, whatever the texts", () => {
  const samples = ["", "a", "aa", "abc", "é😀x", "line\nline", "- [ ] box"];
  for (const before of samples) {
    for (const after of samples) {
      for (let caret = 0; caret <= after.length; caret++) {
        const { index, remove, insert } = textChange(before, after, caret);
        assert.equal(before.slice(0, index) + insert + before.slice(index + remove), after);
      }
    }
  }
});

test("someone else's edit before the caret moves it, after it does not", () => {
  assert.equal(shiftPosition([{ insert: "abc" }], 2), 5);
  assert.equal(shiftPosition([{ retain: 5 }, { insert: "abc" }], 2), 2);
  assert.equal(shiftPosition([{ retain: 2 }, { insert: "x" }], 2), 2); // at the caret: stays before
  assert.equal(shiftPosition([{ delete: 3 }], 5), 2);
  assert.equal(shiftPosition([{ retain: 1 }, { delete: 10 }], 5), 1);
});

test("the checklist box goes on the empty line, or on a new line", () => {
  assert.deepEqual(checklistAt("", 0), { index: 0, insert: "- [ ] " });
  assert.deepEqual(checklistAt("Pièces\n", 7), { index: 7, insert: "- [ ] " });
  assert.deepEqual(checklistAt("Pièces\nsuite", 3), { index: 6, insert: "\n- [ ] " });
});

test("base64 both ways, large updates included", () => {
  const bytes = new Uint8Array(100_000).map((_v, i) => (i * 7) % 256);
  assert.deepEqual(fromBase64(toBase64(bytes)), bytes);
  assert.equal(toBase64(new Uint8Array([0, 0])), "AAA=");
});
