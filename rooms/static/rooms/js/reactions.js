// Emoji reactions: a fixed set, each with a text label (the emoji alone says nothing to a
// screen reader, and may not be drawn by an old phone). Sent as `reaction.send`, received
// as `reaction` (rooms/PROTOCOL.md); shown for a moment on the sender's tile and said in
// the status line. The names are those of REACTIONS in rooms/protocol.py
// (tests/rooms/test_room_tools.py checks they agree). No DOM at import time: the lookup is
// unit-tested under Node (tests/js/reactions.test.js).
import { _, fmt } from "./i18n.js";
import { $, announce, el } from "./dom.js";

export const REACTIONS = Object.freeze([
  { name: "thumbs_up", emoji: "👍", label: () => _("Agreed") },
  { name: "clap", emoji: "👏", label: () => _("Well done") },
  { name: "heart", emoji: "❤️", label: () => _("Love it") },
  { name: "laugh", emoji: "😂", label: () => _("Laughing") },
  { name: "surprised", emoji: "😮", label: () => _("Surprised") },
  { name: "thanks", emoji: "🙏", label: () => _("Thank you") },
]);

const SHOWN_FOR = 4000; // ms a reaction stays on the tile

export const reactionNamed = (name) => REACTIONS.find((r) => r.name === name) ?? null;

// What the status line says: "Jeanne: Agreed".
export function reactionText(name, who) {
  const reaction = reactionNamed(name);
  return reaction ? fmt(_("%(name)s reacts: %(reaction)s"), { name: who, reaction: reaction.label() }) : null;
}

// The toolbar's "React" button opens a row of labelled buttons; choosing one sends it and
// closes the row (Escape closes it too), focus back on "React".
export function reactionPicker({ send }) {
  const button = $("#gv-btn-react");
  const row = $("#gv-reactions");
  const close = (refocus) => {
    row.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  };
  row.replaceChildren(...REACTIONS.map((r) => el("button", {
    type: "button", class: "gv-reaction-choice", "data-reaction": r.name,
    onclick: () => { send({ type: "reaction.send", reaction: r.name }); close(true); },
  }, el("span", { class: "gv-reaction-choice__emoji", "aria-hidden": "true", text: r.emoji }), r.label())));
  button.addEventListener("click", () => {
    const open = row.hidden;
    row.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open) row.querySelector("button").focus();
  });
  row.addEventListener("keydown", (e) => { if (e.key === "Escape") close(true); });
}

// A `reaction` from the server: on the sender's tile for a few seconds, and said.
export function showReaction(stage, { pid, reaction }, who, self) {
  const chosen = reactionNamed(reaction);
  if (!chosen) return;
  const tile = stage.tiles.get(pid);
  if (tile) {
    tile.reaction?.remove();
    clearTimeout(tile.reactionTimer);
    tile.reaction = el("span", { class: "gv-reaction", "aria-hidden": "true", "data-reaction": reaction, text: chosen.emoji });
    tile.node.append(tile.reaction);
    tile.reactionTimer = setTimeout(() => { tile.reaction?.remove(); tile.reaction = null; }, SHOWN_FOR);
  }
  if (!self) announce(reactionText(reaction, who));
}
