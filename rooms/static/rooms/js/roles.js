// The role shown next to a third party's name (tiles, lists, "X joined the call"): the
// others always know who is there besides the agent and the citizen (rooms/entry.py
// decides the role, rooms/lobby.py Role names them). The agent and guests show none.
import { _ } from "./i18n.js";

const LABELS = {
  agent: () => _("Agent"),
  helpdesk: () => _("France Services helpdesk"),
  interpreter: () => _("Interpreter"),
};

export function roleLabel(role) {
  const label = LABELS[role];
  return label ? label() : "";
}

// "Ana (Interpreter)": the name with its role, for announcements and buttons' labels.
export function nameWithRole(p) {
  const label = roleLabel(p.role);
  return label ? `${p.name} (${label})` : p.name;
}
