// Identity check (PROTOCOL.md `idcheck.*`): the agent asks, the citizen accepts and shows
// the card to the camera, the server reads it; the result goes to the agents only.
import { _, fmt } from "./i18n.js";
import { $, announce, el } from "./dom.js";

const OUTCOMES = {
  verified: () => _("Verified"),
  mismatch: () => _("Does not match"),
  unreadable: () => _("Could not be read"),
};
const REASONS = {
  check_digits: () => _("check digits wrong"),
  fields: () => _("fields missing or invalid"),
  expired: () => _("document expired"),
  name: () => _("name differs from the appointment"),
  no_video: () => _("no video from the citizen"),
  no_consistent_read: () => _("no steady reading of the card (hold it closer, flat, in good light)"),
};
// Live guidance while the card is read (`idcheck.hint`, codes of media/idcheck/guidance.py).
export const HINTS = {
  show_mrz: () => _("Show the lines at the bottom of the card"),
  in_frame: () => _("Show the whole card inside the frame"),
  closer: () => _("Bring the card closer"),
  glare: () => _("Avoid reflections"),
  hold_still: () => _("Hold still"),
  straighten: () => _("Hold the card straight"),
  reading: () => _("Reading…"),
};

// The words for a hint code; an unknown code (a newer server) says nothing rather than a code.
export const hintText = (code) => (Object.hasOwn(HINTS, code) ? HINTS[code]() : "");

const STATES = {
  requested: () => _("Waiting for %(name)s to accept…"),
  running: () => _("Reading the card of %(name)s…"),
  refused: () => _("%(name)s refused the check."),
  cancelled: () => _("Check of %(name)s cancelled."),
  busy: () => _("A check of %(name)s is already running."),
  unavailable: () => _("%(name)s cannot be asked now: not in the call."),
};

// --- the citizen's side ---------------------------------------------------------------

// cardMode(on): the camera sends the card sharp while the check reads it (localmedia.js).
export function citizenSide({ send, ensureCamera, switchCamera, cardMode }) {
  const box = $("#gv-idcheck-ask");
  const text = $("#gv-idcheck-text");
  const accept = $("#gv-idcheck-accept");
  const stop = $("#gv-idcheck-refuse");
  const flip = $("#gv-idcheck-flip");
  // A status region (polite live region): read out when the hint changes, which the server
  // bounds (only on change, at most 2 per second), never once per frame.
  const hint = $("#gv-idcheck-hint");
  const showHint = (code) => {
    const words = hintText(code);
    hint.hidden = !words;
    if (hint.textContent !== words) hint.textContent = words;
  };
  // Phones have a front and a rear camera: the rear one sees the card better.
  flip.addEventListener("click", () => switchCamera());
  const offerFlip = async () => {
    const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput");
    flip.hidden = cameras.length < 2;
  };
  // A modal dialog (RGAA 7.1, ARIA alertdialog): the rest of the call is inert while it is
  // open, Escape refuses (or stops), and the focus goes back where it was when it closes.
  let opener = null;
  const INERT = ".gv-topbar, .gv-body, #gv-reactions, .gv-toolbar";
  const open = () => {
    if (box.hidden) opener = document.activeElement;
    box.hidden = false;
    document.body.classList.add("gv-idcheck-open");
    document.querySelectorAll(INERT).forEach((node) => { node.inert = true; });
  };
  const close = () => {
    const hadFocus = box.contains(document.activeElement) || document.activeElement === document.body;
    box.hidden = true;
    document.body.classList.remove("gv-idcheck-open");
    document.querySelectorAll(INERT).forEach((node) => { node.inert = false; });
    if (!hadFocus) return;
    const back = opener?.isConnected && opener.checkVisibility?.() !== false && opener !== document.body ? opener : $("#gv-btn-mic");
    back.focus();
  };
  box.addEventListener("keydown", (e) => {
    if (box.hidden) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      stop.click();
    } else if (e.key === "Tab") { // Tab and Shift+Tab go round the dialog's own controls
      const controls = [...box.querySelectorAll("button, a[href]")].filter((c) => c.checkVisibility?.() ?? !c.hidden);
      const [first, last] = [controls[0], controls[controls.length - 1]];
      if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
      else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    }
  });
  accept.addEventListener("click", async () => {
    await ensureCamera();
    send({ type: "idcheck.accept" });
    cardMode(true); // not awaited: a camera slow to change its size must not hold the check back
    text.textContent = _("Hold the card still, close to the camera, the side with the lines of characters towards it.");
    accept.hidden = true;
    stop.textContent = _("Stop");
    stop.focus(); // "I am ready" goes away: the focus stays in the dialog
  });
  stop.addEventListener("click", () => {
    send({ type: "idcheck.refuse" });
    cardMode(false);
    close();
  });
  return {
    requested({ by }) {
      text.textContent = fmt(
        _("%(name)s asks to check your identity card. Hold it in front of the camera, flat and well lit. The image is read at once and not kept."),
        { name: by || _("the agent") },
      );
      accept.hidden = false;
      showHint(null);
      stop.textContent = _("Refuse");
      open();
      offerFlip();
      accept.focus();
    },
    hint({ hint: code }) {
      if (!box.hidden) showHint(code);
    },
    ended() {
      showHint(null);
      cardMode(false);
      close();
      announce(_("The identity check is over. The agent will tell you the result."));
    },
  };
}

// --- the agent's side -----------------------------------------------------------------

function row(label, value) {
  return value === undefined || value === null || value === ""
    ? null
    : el("div", { class: "gv-idcheck-row" }, el("dt", { text: label }), el("dd", { text: String(value) }));
}

const yesNo = (v) => (v === true ? _("yes") : v === false ? _("no") : null);

export function agentSide({ send, panel, nameOf }) {
  const box = $("#gv-idcheck");
  let current = null;
  $("#gv-idcheck-cancel").addEventListener("click", () => {
    if (current) send({ type: "idcheck.cancel", pid: current });
  });
  // What the citizen is being told now: shown to the agent, not read out (the state line is).
  const progress = (text) => {
    const line = $("#gv-idcheck-progress");
    line.textContent = text ? fmt(_("The citizen sees: %(hint)s"), { hint: text }) : "";
    line.hidden = !text;
  };
  const state = (pid, text, running) => {
    current = running ? pid : null;
    progress("");
    $("#gv-idcheck-state").textContent = text;
    $("#gv-idcheck-cancel").hidden = !running;
    if (panel.current !== "idcheck") panel.open("idcheck");
    announce(text);
  };
  return {
    start(p) {
      send({ type: "idcheck.start", pid: p.pid });
      $("#gv-idcheck-result").replaceChildren();
      state(p.pid, fmt(STATES.requested(), { name: p.name }), true);
    },
    status({ pid, state: s }) {
      const text = STATES[s] ? fmt(STATES[s](), { name: nameOf(pid) }) : s;
      state(pid, text, s === "requested" || s === "running" || s === "busy");
    },
    hint({ pid, hint: code }) {
      if (pid === current) progress(hintText(code));
    },
    result(r) {
      const outcome = OUTCOMES[r.outcome]?.() ?? r.outcome;
      state(r.pid, fmt(_("Identity check of %(name)s: %(outcome)s"), { name: nameOf(r.pid), outcome }), false);
      const reasons = (r.reasons ?? []).map((x) => REASONS[x]?.() ?? x).join(", ");
      const still = r.still?.startsWith("data:image/")
        ? el("img", { src: r.still, class: "gv-idcheck-still", alt: _("Picture of the card, as read (not kept)") })
        : "";
      $("#gv-idcheck-result").replaceChildren(
        el("p", { class: `fr-badge fr-badge--${r.outcome === "verified" ? "success" : "error"}`, text: outcome }),
        el("dl", { class: "gv-idcheck-fields" },
          row(_("Reasons"), reasons),
          row(_("Document"), r.document_type),
          row(_("Surname"), r.surname),
          row(_("Given names"), r.given_names),
          row(_("Birth date"), r.birth_date),
          row(_("Document number"), r.document_number),
          row(_("Expiry date"), r.expiry_date),
          row(_("Check digits valid"), yesNo(r.check_digits_valid)),
          row(_("Expired"), yesNo(r.expired)),
          row(_("Name matches the appointment"),
            r.name_truncated ? _("yes, as far as the card goes (name truncated)") : yesNo(r.name_matches))),
        still,
      );
      box.hidden = false;
    },
  };
}
