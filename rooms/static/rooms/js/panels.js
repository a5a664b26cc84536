// The side panel (chat, participants, settings, share) and what it lists.
import { _, fmt } from "./i18n.js";
import { $, announce, el } from "./dom.js";
import { roleLabel } from "./roles.js";

const TITLES = {
  chat: () => _("Chat"),
  people: () => _("Participants"),
  settings: () => _("Settings"),
  info: () => _("Share and moderate"),
  idcheck: () => _("Identity check"),
  notes: () => _("Notes"),
};

export class Panel {
  constructor() {
    this.root = $("#gv-panel");
    this.current = null;
    this.opener = null;
    this.onChange = null;
    $("#gv-panel-close").addEventListener("click", () => this.close());
    this.root.addEventListener("keydown", (e) => { if (e.key === "Escape") this.close(); });
    for (const button of document.querySelectorAll("[data-open]")) {
      button.addEventListener("click", () => this.toggle(button.dataset.open, button));
    }
  }

  toggle(name, opener) {
    if (this.current === name) this.close();
    else this.open(name, opener);
  }

  open(name, opener = document.querySelector(`[data-open="${name}"]`)) {
    this.current = name;
    this.opener = opener;
    $("#gv-panel-title").textContent = TITLES[name]();
    for (const part of this.root.querySelectorAll("[data-panel]")) part.hidden = part.dataset.panel !== name;
    for (const button of document.querySelectorAll("[data-open]")) {
      button.setAttribute("aria-expanded", String(button.dataset.open === name));
    }
    this.root.hidden = false;
    // Focus goes into the panel (first field, else its title) so keyboard users land there.
    const target = this.root.querySelector(`[data-panel="${name}"] input, [data-panel="${name}"] select`);
    (name === "chat" && target ? target : $("#gv-panel-close")).focus();
    this.onChange?.(name);
  }

  close() {
    if (!this.current) return;
    this.current = null;
    this.root.hidden = true;
    for (const button of document.querySelectorAll("[data-open]")) button.setAttribute("aria-expanded", "false");
    this.opener?.focus();
    this.onChange?.(null);
  }
}

export function chatLine({ name, text, at }, mine) {
  const time = at ? new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  return el("li", { class: `gv-chat-msg${mine ? " gv-chat-msg--mine" : ""}` },
    el("span", { class: "gv-chat-msg__who", text: `${name} ` }),
    el("time", { class: "gv-chat-msg__at", text: time, datetime: at || false }),
    el("p", { class: "gv-chat-msg__text", text }));
}

// One participant row; moderators get buttons for the others.
export function personRow(p, { self, moderator, act }) {
  const state = [];
  if (p.role === "moderator") state.push(_("agent"));
  else if (roleLabel(p.role)) state.push(roleLabel(p.role));
  if (p.hand) state.push(_("hand raised"));
  if (p.audio === false) state.push(_("microphone off"));
  if (p.video === false) state.push(_("camera off"));
  if (p.online === false) state.push(_("connection lost"));
  const row = el("li", { class: "gv-person", "data-pid": p.pid },
    el("span", { class: "gv-person__name", text: self ? `${p.name} (${_("you")})` : p.name }),
    state.length ? el("span", { class: "gv-person__state", text: state.join(", ") }) : null);
  if (moderator && !self && p.role !== "moderator") {
    row.append(el("span", { class: "gv-person__actions" },
      p.hand ? el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--secondary",
        "aria-label": fmt(_("Lower the hand of %(name)s"), { name: p.name }), "data-act": "mod.lower_hand",
        onclick: () => act("mod.lower_hand", p) }, _("Lower hand")) : null,
      el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--secondary",
        "aria-label": fmt(_("Check ID of %(name)s"), { name: p.name }), "data-act": "idcheck.start",
        onclick: () => act("idcheck.start", p) }, _("Check ID")),
      el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--tertiary",
        "aria-label": fmt(_("Send %(name)s back to the waiting room"), { name: p.name }), "data-act": "lobby.return",
        onclick: () => act("lobby.return", p) }, _("Waiting room")),
      el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--tertiary", disabled: p.audio === false,
        "aria-label": fmt(_("Mute %(name)s"), { name: p.name }), "data-act": "mod.mute", onclick: () => act("mod.mute", p) }, _("Mute")),
      el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--tertiary",
        "aria-label": fmt(_("Remove %(name)s"), { name: p.name }), "data-act": "mod.remove", onclick: () => act("mod.remove", p) }, _("Remove"))));
  }
  return row;
}

// Someone waiting: let in, refuse, or send a short note ("5 minutes").
export function waitingRow(p, act) {
  const id = `gv-note-${p.pid}`;
  const note = el("input", { class: "fr-input", id, maxlength: "200", autocomplete: "off" });
  const form = el("form", { class: "gv-note" },
    el("label", { class: "fr-label fr-text--sm", for: id, text: fmt(_("Message to %(name)s"), { name: p.name }) }),
    el("span", { class: "gv-chat-row" }, note,
      el("button", { type: "submit", class: "fr-btn fr-btn--sm fr-btn--secondary" }, _("Send"))));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (note.value.trim()) act("lobby.message", p, note.value.trim());
    note.value = "";
  });
  return el("li", { class: "gv-person", "data-pid": p.pid },
    el("span", { class: "gv-person__name", text: p.name }),
    roleLabel(p.role) ? el("span", { class: "gv-person__state gv-person__role", text: roleLabel(p.role) }) : null,
    p.online === false ? el("span", { class: "gv-person__state", text: _("connection lost") }) : null,
    el("span", { class: "gv-person__actions" },
      el("button", { type: "button", class: "fr-btn fr-btn--sm", "aria-label": fmt(_("Admit %(name)s"), { name: p.name }),
        "data-act": "lobby.admit", onclick: () => act("lobby.admit", p) }, _("Admit")),
      el("button", { type: "button", class: "fr-btn fr-btn--sm fr-btn--tertiary", "aria-label": fmt(_("Refuse %(name)s"), { name: p.name }),
        "data-act": "lobby.refuse", onclick: () => act("lobby.refuse", p) }, _("Refuse"))),
    form);
}

// A count on a toolbar button (unread messages, people waiting); hidden at 0.
export function badge(node, n) {
  node.hidden = n === 0;
  node.textContent = n ? ` ${n}` : "";
}

// The participants panel drawn from the RoomState: who is in the call and, for
// moderators, who waits (with their buttons). Returns the function that redraws it.
export function peopleLists({ state, send, startIdcheck }) {
  const act = (type, p, text) => {
    if (type === "mod.remove" && !confirm(fmt(_("Remove %(name)s from the call?"), { name: p.name }))) return;
    if (type === "idcheck.start") {
      startIdcheck(p);
      return;
    }
    if (type === "lobby.message") {
      if (send({ type, pid: p.pid, text })) announce(fmt(_("Message sent to %(name)s."), { name: p.name }));
      return;
    }
    send({ type, pid: p.pid });
    if (type === "lobby.admit" || type === "lobby.refuse") {
      state.leftLobby(p.pid);
      render();
    }
  };
  $("#gv-lower-hands")?.addEventListener("click", () => send({ type: "mod.lower_hands" }));
  function render() {
    const admitted = [...state.people.values()];
    $("#gv-people-list").replaceChildren(
      ...admitted.map((p) => personRow(p, { self: p.pid === state.me.pid, moderator: state.moderator, act })),
    );
    $("#gv-count").textContent = fmt(_("%(n)s in the call"), { n: admitted.length });
    if (state.moderator) {
      $("#gv-lower-hands").hidden = !admitted.some((p) => p.hand);
      // Re-draw the waiting list only when it changed: a note being typed there survives.
      if (state.lobbyChanged()) {
        $("#gv-lobby-list").replaceChildren(...[...state.lobby.values()].map((p) => waitingRow(p, act)));
      }
      $("#gv-lobby-empty").hidden = state.lobby.size > 0;
      badge($("#gv-waiting"), state.lobby.size);
    }
  }
  return render;
}
