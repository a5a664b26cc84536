// Room page: lobby, call, tools. Speaks rooms/PROTOCOL.md over one WebSocket.
//
// The page's state is one RoomState (state.js: its fields, transitions and life cycle);
// this module turns events (server messages, buttons, timers) into transitions and
// draws the result. The parts: signal.js (the socket), media.js (the peer connection),
// localmedia.js (my microphone, camera, screen), tiles.js (the videos), panels.js (the
// side panel and the people lists), indicators.js (quality, speaker), shortcuts.js,
// idcheck.js, reactions.js, speaker.js (who is big in speaker view), codes.js (close codes),
// backoff.js (when to reconnect), outbox.js (chat sent again until acknowledged). Only the
// modules without DOM at import time (state, codes, backoff, outbox, stats, media, i18n) are
// unit-tested under Node (tests/js).
import { _, fmt, ngettext } from "./i18n.js";
import { $, announce, el, setPressed } from "./dom.js";
import { browserProblem, reportCheck } from "./checks.js";
import { fillSelect, savedDevices, trackDevice } from "./devices.js";
import { CLOSE } from "./codes.js";
import { Signal } from "./signal.js";
import { Outbox } from "./outbox.js";
import { Call } from "./media.js";
import { received } from "./stats.js";
import { Stage } from "./tiles.js";
import { Panel, badge, chatLine, peopleLists } from "./panels.js";
import { beep, setToneLevel, toneLevel } from "./tone.js";
import { nameWithRole } from "./roles.js";
import { CHANGE, RoomState, STATUS } from "./state.js";
import { localMedia } from "./localmedia.js";
import { indicators } from "./indicators.js";
import { shortcuts } from "./shortcuts.js";
import { reactionPicker, showReaction } from "./reactions.js";

const cfg = JSON.parse($("#gv-config").textContent);
const root = $("#gv-root");
const state = new RoomState(cfg, { stream: new MediaStream() });
const { moderator, local } = state;

const stage = new Stage($("#gv-stage"), $("#gv-audio"), savedDevices().output);
const panel = new Panel();
const signal = new Signal(cfg.ws_path, { onMessage, onOpen, onDown, onFinal });
const send = (m) => signal.send(m);
const outbox = new Outbox(); // chat sent but not yet acknowledged: sent again after a reconnect
// Shared notes: notes.js and Yjs load only when the notes panel first opens.
let notes = null;
const openNotes = () => (notes ??= import("./notes.js").then((m) => m.start({ send, moderator, pid: cfg.pid })));
const call = new Call({ send, iceServers: cfg.ice_servers, onRemote: showRemote, onConnection });
const mine = localMedia({ state, call, stage, changed: sendState });
const { showQuality, showLink, showSpeaker, speakers, linkHistory, playout } = indicators({
  state, call, stage, send, autoAudioOnly: () => setAudioOnly(true) });
const renderPeople = peopleLists({ state, send, startIdcheck: (p) => idcheck("start", p) });
// The ID check's code loads at its first use (an agent's request, a message about one): most
// appointments have none. Calls keep their order: each waits for the same loading.
let idcheckSide = null;
const idcheck = (method, arg) => (idcheckSide ??= import("./idcheck.js").then((m) => moderator
  ? m.agentSide({ send, panel, nameOf: (pid) => state.people.get(pid)?.name ?? _("Participant") })
  : m.citizenSide({
      send,
      // The card is read from the camera: make sure the camera (not a screen) is sent.
      ensureCamera: async () => {
        if (local.screen) await mine.setScreen(false);
        if (!local.camera) await mine.setCamera(true);
      },
      switchCamera: mine.switchCamera,
      cardMode: mine.setCardMode,
    }))).then((side) => side[method]?.(arg));

// Resolved once the first getUserMedia has answered (tracks, or none: the call goes on without).
let mediaReady = new Promise(() => {});
// The waiting room's connection (rooms/PROTOCOL.md, "Media"): the socket connection it was
// prepared on, and the tracks map `lobby.admitted` gave when it entered the call.
let preparedOn = -1;
let admittedTracks = null;

// ---- screens -------------------------------------------------------------------------

// Where the keyboard goes when a screen replaces another (RGAA 12.8): never the top of the page.
const LANDING = { "gv-lobby": ["#gv-lobby-title"], "gv-call": ["#gv-btn-mic:not(:disabled)", "#gv-btn-cam"] };

function show(screen) {
  const active = document.activeElement;
  // The page's own clock, read by bench/first_frame_bench.py: when the screen appears.
  if ($(`#${screen}`).hidden) performance.mark(`${screen}:shown`);
  for (const id of ["gv-lobby", "gv-call", "gv-end"]) $(`#${id}`).hidden = id !== screen;
  document.body.classList.toggle("gv-in-call", screen === "gv-call");
  // The focused control went with the old screen (or nothing had the focus): land on the new one.
  if (!active || active === document.body || active.checkVisibility?.() === false) {
    const target = (LANDING[screen] ?? []).map((sel) => $(sel)).find(Boolean);
    target?.focus();
  }
}

function finish(title, text, { rejoin = false } = {}) {
  if (!state.finish()) return;
  signal.close();
  call.close();
  state.timers.forEach(clearInterval);
  for (const track of [local.audio, local.camera, local.screen]) track?.stop();
  stage.clear();
  $("#gv-end-title").textContent = title;
  $("#gv-end-text").textContent = text;
  $("#gv-rejoin").hidden = !rejoin;
  if (moderator) {
    $("#gv-end-text").after(el("p", {}, el("a", { class: "fr-link", href: "/", text: _("Back to my appointments") })));
  }
  show("gv-end");
  $("#gv-end-title").focus();
}

function failure(text) {
  $("#gv-failure-text").textContent = text;
  $("#gv-failure").hidden = false;
}

function recovered() {
  $("#gv-failure").hidden = true;
}

// ---- signalling ----------------------------------------------------------------------

function onOpen() {
  const connection = state.connectionOpened();
  performance.mark("gv:ws-open");
  for (const message of outbox.unacknowledged()) signal.send(message);
  notes?.then((n) => n.reconnected());
  recovered();
  if (connection > 1) announce(_("Reconnected."));
  else $("#gv-status").textContent = ""; // "Connecting…" is over
}

function onDown(attempt, delay) {
  announce(fmt(_("Connection lost. Reconnecting in %(s)s s…"), { s: Math.ceil(delay / 1000) }));
  if (attempt >= 4) failure(_("The connection to the server is lost. Reconnection attempts continue."));
}

// Never a dead end: the personal link, opened again here, takes the appointment back.
const replacedText = () =>
  _("You continued the appointment on another device. To come back to this one, open your personal link again here.");

function onFinal(code) {
  if (code === CLOSE.NO_SESSION && !moderator) {
    location.assign(root.dataset.joinPath);
  } else if (code === CLOSE.NO_SESSION) {
    finish(_("Session expired"), _("Reload the page to enter the room again."));
  } else if (code === CLOSE.REPLACED) {
    finish(_("Continued on another device"), replacedText());
  } else if (code === CLOSE.REFUSED) {
    finish(_("You are not in the call"), _("The agent removed you from the call or did not let you in."));
  } else {
    finish(_("The appointment has ended"), _("Thank you. You can close this page."));
  }
}

const handlers = {
  state(m) {
    state.snapshot(m);
    setLocked(Boolean(m.locked));
    if (m.ice_servers) call.iceServers = m.ice_servers;
    byStatus();
    handSend(state.handAnswered()); // a press the lost connection never answered
  },
  "lobby.waiting"(m) {
    state.waiting(m.participant);
    announce(fmt(_("%(name)s is waiting to enter."), { name: nameWithRole(m.participant) }));
    beep();
    renderPeople();
  },
  // To moderators: someone left the waiting room (admitted or refused by any moderator).
  "lobby.left"(m) {
    state.leftLobby(m.participant.pid);
    renderPeople();
  },
  "lobby.info"(m) {
    const parts = [];
    if (m.agent_busy) parts.push(_("The agent is finishing another appointment."));
    const ahead = ngettext("%(n)s person before you.", "%(n)s people before you.", m.position);
    parts.push(m.position ? fmt(ahead, { n: m.position }) : _("You are next."));
    $("#gv-lobby-info").textContent = parts.join(" ");
  },
  "lobby.message"(m) {
    const box = $("#gv-lobby-message");
    box.textContent = m.from ? fmt(_("Message from %(name)s: %(text)s"), { name: m.from, text: m.text }) : m.text;
    box.hidden = false;
  },
  // The agent sent us back to the waiting room: the call stops, the socket stays.
  "lobby.returned"() {
    call.close();
    preparedOn = -1; // back in the waiting room: prepared again
    stage.clear();
    state.returnedToLobby();
    byStatus();
    announce(_("The agent moved you back to the waiting room."));
  },
  "lobby.admitted"(m) {
    // With `tracks`: the connection prepared while waiting is in the call; no offer of ours.
    if (m.tracks && call.held) {
      state.offerDue();
      admittedTracks = m.tracks;
    }
    state.setStatus(STATUS.ADMITTED);
    byStatus();
  },
  "lobby.refused"() {
    state.setStatus(STATUS.REFUSED);
    byStatus();
  },
  "participant.joined"(m) {
    changed(m.participant);
    // A third party is named with its role: the citizen knows who joined (rooms/entry.py).
    if (m.participant.pid !== state.me.pid) announce(fmt(_("%(name)s joined the call."), { name: nameWithRole(m.participant) }));
  },
  "participant.updated"(m) {
    const before = m.participant.pid === state.me.pid ? state.me : state.people.get(m.participant.pid);
    changed(m.participant);
    if (m.participant.pid === state.me.pid && before.name !== m.participant.name) announce(_("Your name was changed."));
    if (m.participant.hand && !before?.hand && m.participant.pid !== state.me.pid) {
      announce(fmt(_("%(name)s raised their hand."), { name: m.participant.name }));
    }
    if (m.participant.pid === state.me.pid) handSend(state.handAnswered());
  },
  "participant.link"(m) {
    showLink(m);
  },
  "participant.left"(m) {
    const p = m.participant;
    if (state.participantLeft(p.pid)) announce(fmt(_("%(name)s left the call."), { name: p.name }));
    stage.remove(p.pid);
    renderPeople();
  },
  "chat.message"(m, { replayed = false } = {}) {
    if (m.pid === state.me.pid) outbox.acknowledged(m.id);
    if (!outbox.firstSight(m)) return; // live and replayed copies of one message
    $("#gv-chat-log").append(chatLine(m, m.pid === state.me.pid));
    $("#gv-chat-log").lastElementChild.scrollIntoView({ block: "nearest" });
    if (panel.current !== "chat" && m.pid !== state.me.pid) {
      badge($("#gv-unread"), state.unreadMessage());
      if (!replayed) announce(fmt(_("Message from %(name)s: %(text)s"), { name: m.name, text: m.text }));
    }
  },
  reaction(m) {
    showReaction(stage, m, state.people.get(m.pid)?.name ?? _("Participant"), m.pid === state.me.pid);
  },
  // A moderator lowered my hand (participant.updated follows for the tiles).
  "hand.lowered"(m) {
    state.handSettled();
    handSend(null);
    announce(fmt(_("%(name)s lowered your hand."), { name: state.people.get(m.by)?.name ?? _("the agent") }));
  },
  "chat.ack"(m) {
    outbox.acknowledged(m.id);
  },
  "chat.replay"(m) {
    for (const message of m.messages) handlers["chat.message"](message, { replayed: true });
  },
  "rtc.answer"(m) {
    call.answered(m);
  },
  "rtc.offer"(m) {
    call.offered(m);
  },
  "mod.muted"(m) {
    mine.setMic(false);
    const by = state.people.get(m.by)?.name ?? m.by ?? _("the agent");
    announce(fmt(_("%(name)s turned off your microphone."), { name: by }));
  },
  removed() {
    finish(_("You are not in the call"), _("The agent removed you from the call."));
  },
  ended() {
    finish(_("The appointment has ended"), _("The agent ended the meeting. Thank you. You can close this page."));
  },
  replaced() {
    finish(_("Continued on another device"), replacedText());
  },
  "room.locked"(m) {
    setLocked(m.locked);
    announce(m.locked ? _("The room is locked.") : _("The room is unlocked."));
  },
  "room.password"(m) {
    $("#gv-password").textContent = m.password;
    $("#gv-password-box").hidden = false;
  },
  "phone.status"(m) {
    const status = $("#gv-call-status");
    if (status) status.textContent = fmt(_("Call to %(number)s: %(status)s"), { number: m.number, status: callStatus(m.status) });
  },
  "idcheck.requested"(m) {
    idcheck("requested", m);
  },
  "idcheck.ended"(m) {
    idcheck("ended", m);
  },
  "idcheck.hint"(m) {
    idcheck("hint", m);
  },
  "idcheck.status"(m) {
    idcheck("status", m);
  },
  "idcheck.result"(m) {
    idcheck("result", m);
  },
  error(m) {
    if (m.code === "media_unavailable") mediaLost(_("The video service is unavailable for now."));
    else if (m.code === "rate_limited") announce(_("Too many messages at once: wait a moment, then try again."));
    else if (m.code === "reserved_name") announce(_("This name is reserved for the service's staff: choose another one."));
    else if (m.code === "dial_out" && $("#gv-call-status")) $("#gv-call-status").textContent = m.message;
    else console.warn("server refused a message", m);
    // My press was refused (rate limited): the button says what the room sees again.
    if (m.ref === "hand.set") {
      state.handSettled();
      handSend(null);
    }
    // Stored but not broadcast (the channel layer failed under it): the outbox sends it again.
    if (m.code === "server_error" && m.ref === "chat.send") {
      setTimeout(() => outbox.unacknowledged().forEach((message) => signal.send(message)), 2000);
    }
  },
};

// Twilio's call statuses, as the agent reads them (rooms/phone/dialout.py).
function callStatus(status) {
  return {
    queued: _("calling…"), initiated: _("calling…"), ringing: _("ringing…"), "in-progress": _("in the call"),
    completed: _("call ended"), busy: _("busy"), "no-answer": _("no answer"), failed: _("call failed"),
    canceled: _("call cancelled"),
  }[status] ?? status;
}

function onMessage(m) {
  if (m.type.startsWith("notes.") || m.ref?.startsWith?.("notes.")) notes?.then((n) => n.receive(m));
  else handlers[m.type]?.(m);
}

// A participant's news: who is where.
function changed(p) {
  switch (state.participantChanged(p)) {
    case CHANGE.MY_STATUS:
      return byStatus();
    case CHANGE.IN_CALL:
      stage.update(p, p.pid === state.me.pid);
      break;
    case CHANGE.OUT_OF_CALL:
      stage.remove(p.pid);
      break;
  }
  renderPeople();
}

// Go to the screen our status calls for; an admitted browser offers once per connection.
function byStatus() {
  switch (state.me.status) {
    case STATUS.WAITING:
      show("gv-lobby");
      mediaReady.then(() => { $("#gv-lobby-preview").srcObject = local.stream; });
      signal.send({ type: "lobby.info" });
      // A guest's connection is made while it waits (once per socket connection): admitted,
      // its picture comes without a negotiation round.
      if (state.me.role === "guest" && preparedOn !== state.connection) {
        preparedOn = state.connection;
        call.prepare();
      }
      break;
    case STATUS.ADMITTED:
      enterCall();
      break;
    case STATUS.REFUSED:
      finish(_("You cannot enter"), _("The agent did not let you in. Contact the structure if you think this is a mistake."));
      break;
    case STATUS.REMOVED:
      finish(_("You are not in the call"), _("The agent removed you from the call."));
      break;
    case STATUS.LEFT:
      finish(_("You left the call"), _("You can join again with the same link."), { rejoin: !moderator });
      break;
  }
}

function enterCall() {
  const first = $("#gv-call").hidden;
  show("gv-call");
  state.enteredCall();
  for (const p of state.people.values()) stage.update(p, p.pid === state.me.pid);
  renderPeople();
  if (first) announce(_("You are in the call."));
  // The socket opened while the camera was starting: the offer waits for our tracks, and is
  // dropped if this connection was replaced meanwhile (the new one offers).
  const offer = state.offerDue();
  const connection = state.connection;
  const prepared = admittedTracks;
  admittedTracks = null;
  mediaReady.then(() => {
    if (state.finished || $("#gv-call").hidden) return;
    stage.setVideo(state.me.pid, state.outgoingVideo, true);
    if (prepared && state.connection === connection) {
      if (call.release({ audio: local.audio, video: state.outgoingVideo }, prepared)) {
        sendState();
        return;
      }
      state.forgetOffer(); // lost meanwhile: offer as usual
      if (!state.offerDue()) return;
    } else if (!offer || state.connection !== connection) {
      return;
    }
    performance.mark("gv:offer");
    call.start({ audio: local.audio, video: state.outgoingVideo });
    sendState();
  });
}

// ---- media ---------------------------------------------------------------------------

function showRemote(remote) {
  for (const pid of stage.tiles.keys()) {
    if (pid === state.me.pid) continue;
    if (!remote.has(pid)) {
      stage.setVideo(pid, null);
      stage.setAudio(pid, null);
    }
  }
  for (const [pid, tracks] of remote) {
    if (!state.people.has(pid)) stage.update({ pid, name: _("Participant") });
    stage.setVideo(pid, state.audioOnly ? null : tracks.video ?? null);
    stage.setAudio(pid, tracks.audio ?? null);
  }
}

// Media failover (PROTOCOL.md): a failed peer connection is replaced by a new offer on the
// same socket, with backoff; after a few tries the user also gets advice and the helpdesk.
function mediaLost(text) {
  const retry = state.mediaFailed();
  if (!retry) return;
  if (retry.advise) failure(text);
  announce(_("Reconnecting the audio and video…"));
  setTimeout(() => {
    if (state.mediaRetryDue(signal.open)) enterCall();
  }, retry.delay);
}

function onConnection(connectionState) {
  if (connectionState === "connected") {
    state.mediaConnected();
    recovered();
  } else if (connectionState === "failed") {
    mediaLost(_("The audio and video could not get through."));
  }
}

// Tell the others what I send; my tile shows it.
function sendState() {
  signal.send({ type: "media.state", ...state.mediaState() });
  if (state.people.has(state.me.pid)) stage.update(state.me, true);
}

// Send what state.js says to send (null: nothing), then draw the hand the page shows.
function handSend(raised) {
  if (raised !== null) signal.send({ type: "hand.set", raised });
  setPressed($("#gv-btn-hand"), state.handShown);
  if (state.people.has(state.me.pid)) stage.update({ ...state.me, hand: state.handShown }, true);
}

async function setQuality(value) {
  state.setQuality(value);
  document.querySelectorAll(".gv-audio-only").forEach((b) => setPressed(b, value === "audio"));
  signal.send({ type: "quality.set", audio_only: value === "audio" });
  await call.setLowVideo(value !== "high");
  showRemote(call.remote ?? new Map());
  announce(value === "audio" ? _("Audio only: you no longer receive the videos.") : _("Video quality changed."));
}

// One tap for a weak network (waiting room and call): receive no video, send none;
// the tap again brings back normal quality and the camera if it was on.
async function setAudioOnly(on) {
  if (on === state.audioOnly) return;
  const camera = state.audioOnlyCamera(on);
  if (camera) await mine.setCamera(camera === "start");
  $("#gv-quality-select").value = on ? "audio" : "high";
  await setQuality(on ? "audio" : "high");
}

// ---- room lock ----------------------------------------------------------------------

function setLocked(locked) {
  $("#gv-locked").hidden = !locked;
  const button = $("#gv-lock");
  if (button) setPressed(button, locked);
}

// ---- wiring --------------------------------------------------------------------------

function wire() {
  $("#gv-btn-mic").addEventListener("click", () => mine.setMic(!local.audio?.enabled));
  $("#gv-btn-cam").addEventListener("click", () => mine.setCamera(!local.camera));
  $("#gv-btn-hand").addEventListener("click", () => handSend(state.pressHand()));
  const screenButton = $("#gv-btn-screen");
  // Screen sharing exists on computers only (phones have no getDisplayMedia or no use for it).
  screenButton.hidden = !navigator.mediaDevices?.getDisplayMedia || matchMedia("(pointer: coarse)").matches;
  screenButton.addEventListener("click", () => mine.setScreen(!local.screen));
  // The button says the mode the stage is in (not a toggle: its label changes).
  $("#gv-btn-view").addEventListener("click", (e) => {
    const view = state.toggleView();
    stage.setView(view);
    e.currentTarget.textContent = view === "speaker" ? _("View: speaker") : _("View: tiles");
    announce(view === "speaker" ? _("Speaker view: the person speaking is shown large.") : _("Tile view: everyone is shown the same size."));
  });
  reactionPicker({ send });
  for (const button of document.querySelectorAll('[data-action="leave"]')) {
    button.addEventListener("click", () => {
      signal.send({ type: "leave" });
      finish(_("You left the call"), _("The others stay in the call. You can join again with the same link."), { rejoin: !moderator });
    });
  }
  $("#gv-retry").addEventListener("click", () => {
    recovered();
    signal.retryNow();
    if (signal.open && state.admitted) {
      state.forgetOffer();
      enterCall();
    }
  });
  $("#gv-chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#gv-chat-text");
    const text = input.value.trim();
    if (!text) return;
    // Kept until acknowledged: sent now if the socket is open, else after the reconnect.
    signal.send(outbox.add({ type: "chat.send", text }));
    input.value = "";
  });
  $("#gv-name-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#gv-name").value.trim();
    if (name) signal.send({ type: "name.set", name }); // said once the server has taken it (participant.updated)
  });
  const tone = $("#gv-tone");
  if (tone) { // moderators: the tone that says someone is waiting, its volume or off
    tone.value = toneLevel();
    tone.addEventListener("change", () => {
      setToneLevel(tone.value);
      announce(tone.value === "0" ? _("Alert tone off.") : _("Alert tone volume changed."));
    });
    $("#gv-tone-try").addEventListener("click", () => beep(tone.value));
  }
  $("#gv-quality-select").addEventListener("change", (e) => setQuality(e.target.value));
  document.querySelectorAll(".gv-audio-only").forEach((b) => b.addEventListener("click", () => setAudioOnly(!state.audioOnly)));
  $("#gv-set-camera").addEventListener("change", (e) => mine.pickDevice("video", e.target.value));
  $("#gv-set-mic").addEventListener("change", (e) => mine.pickDevice("audio", e.target.value));
  panel.onChange = (name) => {
    if (name === "notes") openNotes();
    if (name === "chat") badge($("#gv-unread"), state.chatOpened());
    if (name === "settings") {
      fillSelect($("#gv-set-camera"), "videoinput", trackDevice(local.camera), _("Camera"));
      fillSelect($("#gv-set-mic"), "audioinput", trackDevice(local.audio), _("Microphone"));
    }
  };
  if (moderator) {
    $("#gv-copy").addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(cfg.join_url);
        announce(_("Link copied."));
      } catch {
        getSelection().selectAllChildren($("#gv-join-url"));
      }
    });
    $("#gv-new-password").addEventListener("click", () => signal.send({ type: "room.password" }));
    $("#gv-lock").addEventListener("click", (e) => {
      signal.send({ type: "room.lock", locked: e.currentTarget.getAttribute("aria-pressed") !== "true" });
    });
    $("#gv-call-citizen")?.addEventListener("click", () => {
      const number = $("#gv-call-number").value.trim();
      // Another number than the appointment's: said back before Twilio dials it.
      if (number && !confirm(fmt(_("Call %(number)s?"), { number }))) return;
      signal.send(number ? { type: "phone.call", number } : { type: "phone.call" });
    });
    $("#gv-end-all").addEventListener("click", () => {
      if (confirm(_("End the meeting for everyone?"))) signal.send({ type: "mod.end" });
    });
  }
  stage.onBlockedAudio = () => {
    if ($("#gv-sound")) return;
    const button = el("button", { type: "button", class: "fr-btn fr-btn--sm", id: "gv-sound" }, _("Turn on the sound"));
    button.addEventListener("click", () => { stage.resumeAudio(); button.remove(); });
    $("#gv-status").after(button);
  };
  shortcuts(panel);
}

async function main() {
  // Guests who came by their personal link skipped the join page's check: report it here.
  const report = (problems) => reportCheck(root.dataset.reportUrl, problems);
  const problem = browserProblem();
  if (problem) report([problem.code]);
  if (problem?.blocking) { // an in-app browser may still work: it tries (it was warned on the first page)
    finish(problem.title, problem.text);
    return;
  }
  wire();
  // Someone who waits sees the waiting room at once (the page knew it): the socket's `state`
  // confirms it, or moves them on (issue 21).
  if (cfg.status === STATUS.WAITING) show("gv-lobby");
  announce(_("Connecting…"));
  // The WebSocket opens alongside getUserMedia (issue 21): the waiting room or the call is
  // known while the camera starts; what needs the tracks waits for `mediaReady`.
  mediaReady = mine.start().then((problems) => { performance.mark("gv:media-ready"); report(problems); });
  signal.connect();
  state.timers = [
    setInterval(showQuality, 500),
    setInterval(showSpeaker, 400),
    setInterval(() => { if (state.me.status === STATUS.WAITING) signal.send({ type: "lobby.info" }); }, 15000),
  ];
}

// Diagnostics for support staff and the browser tests.
globalThis.gvDebug = {
  get pc() { return call.pc; },
  get connected() { return signal.open; },
  dropConnection: () => signal.ws?.close(CLOSE.DROPPED), // as a network cut would: the page reconnects
  get tracks() { return call.tracks; },
  received: () => received(call.pc, call.tracks),
  get me() { return state.me; },
  people: () => [...state.people.values()],
  lobby: () => [...state.lobby.values()],
  speakers, // speaker view's choice: speaker, speaking, levels (speaker.js)
  linkHistory, // the last link readings (linkquality.js)
  playout, // the video buffer's target (playout.js)
};

main();
