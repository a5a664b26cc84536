// Shared notes (rooms/PROTOCOL.md "Shared notes"): a Yjs document bound to a plain
// <textarea> (keyboard, screen readers and phones as any text field), synced over the room's
// socket. Loaded by room.js only when the notes panel first opens, with Yjs (vendored, no CDN).
//
// Sync: on open and at every reconnection the page sends its state vector (`notes.sync`); the
// server answers with what the page lacks and its own vector (`notes.state`); the page then
// sends what the server lacks (offline typing). Typing is sent as Yjs updates merged over
// 150 ms; one lost with a dying socket is sent again by the next sync. Other pages' updates
// arrive as `notes.update`; the caret stays where it was in the text.
import * as Y from "../vendor/yjs/yjs.min.js";
import { _ } from "./i18n.js";
import { $, announce, setPressed } from "./dom.js";
import { checklistAt, fromBase64, shiftPosition, textChange, toBase64 } from "./notestext.js";

const REMOTE = "remote";
const LOCAL = "local";
const FLUSH_MS = 150;
const RESYNC_MS = 30_000;

export function start({ send, moderator, pid }) {
  document.head.append(Object.assign(document.createElement("link"),
    { rel: "stylesheet", href: new URL("../css/notes.css", import.meta.url).href }));
  const area = $("#gv-notes-text");
  const status = $("#gv-notes-status");
  let doc, text, pending, timer, synced, readOnly = false;

  function fresh() {
    doc = new Y.Doc();
    text = doc.getText("notes");
    pending = [];
    synced = false;
    text.observe((event, transaction) => {
      if (transaction.origin === LOCAL) return;
      const [from, to] = [area.selectionStart, area.selectionEnd];
      const focused = document.activeElement === area;
      area.value = text.toString();
      if (focused) area.setSelectionRange(shiftPosition(event.delta, from), shiftPosition(event.delta, to));
    });
    doc.on("update", (update, origin) => {
      if (origin === REMOTE) return;
      pending.push(update);
      timer ??= setTimeout(flush, FLUSH_MS);
    });
  }

  function flush() {
    timer = null;
    if (!pending.length || !synced) return; // before the first sync: that sync sends it all
    const update = pending.length === 1 ? pending[0] : Y.mergeUpdates(pending);
    pending = [];
    send({ type: "notes.update", update: toBase64(update) }); // lost if offline: the next sync has it
  }

  function sync() {
    send({ type: "notes.sync", sv: toBase64(Y.encodeStateVector(doc)) });
  }

  function editable() {
    const writes = synced && (moderator || !readOnly);
    area.disabled = !synced;
    area.readOnly = !writes;
    for (const id of ["#gv-notes-checklist", "#gv-notes-lock", "#gv-notes-review"]) {
      const button = $(id);
      if (button) button.disabled = !synced;
    }
    status.textContent = !synced ? _("Loading the notes…")
      : readOnly && !moderator ? _("The agent made the notes read-only.")
        : readOnly ? _("Guests can read the notes but not change them.") : "";
  }

  function setReadOnly(value) {
    readOnly = value;
    const lock = $("#gv-notes-lock");
    if (lock) setPressed(lock, value);
    editable();
  }

  area.addEventListener("input", () => {
    const change = textChange(text.toString(), area.value, area.selectionEnd);
    doc.transact(() => {
      if (change.remove) text.delete(change.index, change.remove);
      if (change.insert) text.insert(change.index, change.insert);
    }, LOCAL);
  });

  if (moderator) {
    $("#gv-notes-checklist").addEventListener("click", () => {
      const { index, insert } = checklistAt(text.toString(), area.selectionEnd);
      doc.transact(() => text.insert(index, insert), LOCAL);
      area.value = text.toString();
      area.focus();
      area.setSelectionRange(index + insert.length, index + insert.length);
    });
    $("#gv-notes-lock").addEventListener("click", (e) => {
      send({ type: "notes.lock", read_only: e.currentTarget.getAttribute("aria-pressed") !== "true" });
    });
    const review = $("#gv-notes-review");
    review.addEventListener("click", () => {
      const box = $("#gv-notes-summary");
      box.hidden = !box.hidden;
      review.setAttribute("aria-expanded", String(!box.hidden));
      $("#gv-notes-preview").textContent = text.toString();
      if (!box.hidden) $("#gv-notes-summary-title").focus();
    });
    $("#gv-notes-send").addEventListener("submit", async (e) => {
      e.preventDefault();
      flush(); // the server sends what it holds: let it have the last keystrokes first
      const form = e.currentTarget;
      const said = $("#gv-notes-sent");
      form.querySelector("button").disabled = true;
      try {
        const answer = await fetch(form.action, { method: "POST", body: new FormData(form),
          headers: { Accept: "application/json" }, credentials: "same-origin" });
        const body = await answer.json();
        said.textContent = body.message;
      } catch {
        said.textContent = _("The summary could not be sent. Try again.");
      } finally {
        form.querySelector("button").disabled = false;
      }
    });
  }

  function receive(m) {
    if (m.type === "notes.state") {
      Y.applyUpdate(doc, fromBase64(m.update), REMOTE); // the observer shows it, the caret kept
      if (area.value !== text.toString()) area.value = text.toString(); // after a reset to the server's copy
      // What this page typed while the server could not hear it (offline), once.
      const missing = Y.encodeStateAsUpdate(doc, fromBase64(m.sv));
      pending = [];
      if (missing.length > 2) send({ type: "notes.update", update: toBase64(missing) });
      synced = true;
      setReadOnly(m.read_only);
    } else if (m.type === "notes.update") {
      if (m.pid !== pid) Y.applyUpdate(doc, fromBase64(m.update), REMOTE);
    } else if (m.type === "notes.locked") {
      setReadOnly(m.read_only);
      announce(m.read_only ? _("The notes are now read-only for guests.") : _("Everyone can write in the notes again."));
    } else if (m.type === "error" && m.code === "read_only") {
      // Typed just before the lock arrived: the server kept none of it; start again from its copy.
      fresh();
      sync();
    } else if (m.type === "error") {
      status.textContent = m.code === "too_large" ? _("The notes are too long: remove some text.") : m.message;
    }
  }

  fresh();
  editable();
  sync();
  // A broadcast lost while the server's channel layer was down (rooms/layer.py) reaches this
  // page at the next sync: one every 30 s costs a state vector each way when nothing is missing.
  setInterval(sync, RESYNC_MS);
  // Diagnostics for the browser tests.
  globalThis.gvNotes = { get text() { return text.toString(); }, get synced() { return synced; } };
  return {
    receive,
    // Typing goes on while the socket is down (kept in the document); this sync sends it.
    reconnected: sync,
  };
}
