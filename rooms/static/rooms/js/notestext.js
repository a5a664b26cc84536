// The shared notes' plain text, without DOM or Yjs (tests/js/notestext.test.js): what one
// keystroke changed, where a caret goes when someone else's edit lands before it, and the
// checklist line the agent inserts. Indexes are UTF-16 code units, as in Yjs and textareas.

export const CHECKBOX = "- [ ] "; // rooms/notes/templates.py and text.py read the same marker

// The one span `before` → `after` replaced: {index, remove, insert}. `caret` (where the
// caret is now) settles the ambiguous cases ("aa" → "aaa": which "a" was typed).
export function textChange(before, after, caret = after.length) {
  let start = 0;
  const limit = Math.min(before.length, after.length);
  // What was typed ends at the caret: it starts at the latest `caret - growth`.
  const maxStart = Math.min(limit, Math.max(0, caret - Math.max(0, after.length - before.length)));
  while (start < maxStart && before.charCodeAt(start) === after.charCodeAt(start)) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before.charCodeAt(endBefore - 1) === after.charCodeAt(endAfter - 1)) {
    endBefore--;
    endAfter--;
  }
  return { index: start, remove: endBefore - start, insert: after.slice(start, endAfter) };
}

// A position after a remote Yjs delta ([{retain}, {insert}, {delete}]): text inserted
// before it pushes it on, text deleted before it pulls it back (an insert exactly at the
// caret goes after it: the other person's words do not carry my caret along).
export function shiftPosition(delta, position) {
  let at = 0;
  let moved = position;
  for (const op of delta) {
    if (op.retain != null) at += op.retain;
    else if (op.insert != null) {
      const length = typeof op.insert === "string" ? op.insert.length : 1;
      if (at < position) moved += length;
      at += length;
    } else if (op.delete != null) {
      if (at < position) moved -= Math.min(op.delete, position - at);
    }
    if (at > position) break;
  }
  return Math.max(0, moved);
}

// Where the checklist button inserts a box: at the start of the caret's line when it is
// empty, else on a new line after it. {index, insert}.
export function checklistAt(text, caret) {
  const lineStart = text.lastIndexOf("\n", caret - 1) + 1;
  let lineEnd = text.indexOf("\n", caret);
  if (lineEnd < 0) lineEnd = text.length;
  if (text.slice(lineStart, lineEnd).trim() === "") return { index: lineStart, insert: CHECKBOX };
  return { index: lineEnd, insert: `\n${CHECKBOX}` };
}

// Bytes ↔ base64 for the socket's JSON (chunked: a spread of 100 kB overflows the stack).
export function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
