// Room page: lobby, call, tools. Speaks rooms/PROTOCOL.md over one WebSocket.
import { _, fmt, ngettext } from "./i18n.js";
import { $, announce, el, setPressed } from "./dom.js";
import { browserProblem, mediaErrorCodes, mediaErrorText, reportCheck } from "./checks.js";
import { fillSelect, openAudio, openMedia, openVideo, saveDevices, savedDevices, trackDevice } from "./devices.js";
import { CLOSE } from "./codes.js";
import { Signal } from "./signal.js";
import { Call } from "./media.js";
import { measure, received } from "./stats.js";
import { Stage } from "./tiles.js";
import { Panel, chatLine, personRow, waitingRow } from "./panels.js";
import { agentSide, citizenSide } from "./idcheck.js";
import { beep } from "./tone.js";

const cfg = JSON.parse($("#gv-config").textContent);
const moderator = cfg.role === "moderator";
const root = $("#gv-root");

const local = { audio: null, camera: null, screen: null, stream: new MediaStream() };
const people = new Map(); // admitted participants, by pid
const lobby = new Map(); // waiting participants (moderators only)
let me = { pid: cfg.pid, name: cfg.name, role: cfg.role, status: "waiting", audio: true, video: true, hand: false };
let view = "tiles";
let quality = "high";
let connection = 0; // WebSocket connections opened so far
let offeredOn = -1; // the connection on which our offer was made
let finished = false;
let unread = 0;
let timers = [];

const stage = new Stage($("#gv-stage"), $("#gv-audio"), savedDevices().output);
const panel = new Panel();
const signal = new Signal(cfg.ws_path, { onMessage, onOpen, onDown, onFinal });
const send = (m) => signal.send(m);
const call = new Call({ send, iceServers: cfg.ice_servers, onRemote: showRemote, onConnection });
const idcheck = moderator
  ? agentSide({ send, panel, nameOf: (pid) => people.get(pid)?.name ?? _("Participant") })
  : citizenSide({
      send,
      // The card is read from the camera: make sure the camera (not a screen) is sent.
      ensureCamera: async () => {
        if (local.screen) await setScreen(false);
        if (!local.camera) await setCamera(true);
      },
      switchCamera,
    });

// ---- screens -------------------------------------------------------------------------

function show(screen) {
  for (const id of ["gv-lobby", "gv-call", "gv-end"]) $(`#${id}`).hidden = id !== screen;
  document.body.classList.toggle("gv-in-call", screen === "gv-call");
}

function finish(title, text, { rejoin = false } = {}) {
  if (finished) return;
  finished = true;
  signal.close();
  call.close();
  timers.forEach(clearInterval);
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
  connection += 1;
  recovered();
  if (connection > 1) announce(_("Reconnected."));
  else $("#gv-status").textContent = ""; // "Connecting…" is over
}

function onDown(attempt, delay) {
  announce(fmt(_("Connection lost. Reconnecting in %(s)s s…"), { s: delay / 1000 }));
  if (attempt >= 4) failure(_("The connection to the server is lost. Reconnection attempts continue."));
}

function onFinal(code) {
  if (code === CLOSE.NO_SESSION && !moderator) {
    location.assign(root.dataset.joinPath);
  } else if (code === CLOSE.NO_SESSION) {
    finish(_("Session expired"), _("Reload the page to enter the room again."));
  } else if (code === CLOSE.REFUSED) {
    finish(_("You are not in the call"), _("The agent removed you from the call or did not let you in."));
  } else {
    finish(_("The appointment has ended"), _("Thank you. You can close this page."));
  }
}

const handlers = {
  state(m) {
    me = { ...me, ...m.you };
    people.clear();
    for (const p of m.participants ?? []) people.set(p.pid, p);
    lobby.clear();
    for (const p of m.lobby ?? []) lobby.set(p.pid, p);
    setLocked(Boolean(m.locked));
    if (m.ice_servers) call.iceServers = m.ice_servers;
    byStatus();
  },
  "lobby.waiting"(m) {
    lobby.set(m.participant.pid, m.participant);
    announce(fmt(_("%(name)s is waiting to enter."), { name: m.participant.name }));
    beep();
    renderPeople();
  },
  // To moderators: someone left the waiting room (admitted or refused by any moderator).
  "lobby.left"(m) {
    lobby.delete(m.participant.pid);
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
    offeredOn = -1;
    stage.clear();
    people.clear();
    me.status = "waiting";
    byStatus();
    announce(_("The agent moved you back to the waiting room."));
  },
  "lobby.admitted"() {
    me.status = "admitted";
    byStatus();
  },
  "lobby.refused"() {
    me.status = "refused";
    byStatus();
  },
  "participant.joined"(m) {
    changed(m.participant);
    if (m.participant.pid !== me.pid) announce(fmt(_("%(name)s joined the call."), { name: m.participant.name }));
  },
  "participant.updated"(m) {
    const before = people.get(m.participant.pid);
    changed(m.participant);
    if (m.participant.hand && !before?.hand && m.participant.pid !== me.pid) {
      announce(fmt(_("%(name)s raised their hand."), { name: m.participant.name }));
    }
  },
  "participant.left"(m) {
    const p = m.participant;
    lobby.delete(p.pid);
    if (people.delete(p.pid)) announce(fmt(_("%(name)s left the call."), { name: p.name }));
    stage.remove(p.pid);
    renderPeople();
  },
  "chat.message"(m) {
    $("#gv-chat-log").append(chatLine(m, m.pid === me.pid));
    $("#gv-chat-log").lastElementChild.scrollIntoView({ block: "nearest" });
    if (panel.current !== "chat" && m.pid !== me.pid) {
      unread += 1;
      badge($("#gv-unread"), unread);
      announce(fmt(_("Message from %(name)s: %(text)s"), { name: m.name, text: m.text }));
    }
  },
  "rtc.answer"(m) {
    call.answered(m);
  },
  "rtc.offer"(m) {
    call.offered(m);
  },
  "mod.muted"(m) {
    setMic(false);
    const by = people.get(m.by)?.name ?? m.by ?? _("the agent");
    announce(fmt(_("%(name)s turned off your microphone."), { name: by }));
  },
  removed() {
    finish(_("You are not in the call"), _("The agent removed you from the call."));
  },
  ended() {
    finish(_("The appointment has ended"), _("The agent ended the meeting. Thank you. You can close this page."));
  },
  "room.locked"(m) {
    setLocked(m.locked);
    announce(m.locked ? _("The room is locked.") : _("The room is unlocked."));
  },
  "room.password"(m) {
    $("#gv-password").textContent = m.password;
    $("#gv-password-box").hidden = false;
  },
  "idcheck.requested"(m) {
    idcheck.requested?.(m);
  },
  "idcheck.ended"(m) {
    idcheck.ended?.(m);
  },
  "idcheck.status"(m) {
    idcheck.status?.(m);
  },
  "idcheck.result"(m) {
    idcheck.result?.(m);
  },
  error(m) {
    if (m.code === "media_unavailable") mediaLost(_("The video service is unavailable for now."));
    else console.warn("server refused a message", m);
  },
};

function onMessage(m) {
  handlers[m.type]?.(m);
}

// A participant's news: who is where.
function changed(p) {
  if (p.pid === me.pid) {
    me = { ...me, ...p };
    if (p.status !== "admitted") return byStatus();
  }
  if (p.status === "waiting") lobby.set(p.pid, p);
  else lobby.delete(p.pid);
  if (p.status === "admitted") {
    people.set(p.pid, p);
    stage.update(p, p.pid === me.pid);
  } else if (people.delete(p.pid)) {
    stage.remove(p.pid);
  }
  renderPeople();
}

// Go to the screen our status calls for; an admitted browser offers once per connection.
function byStatus() {
  switch (me.status) {
    case "waiting":
      show("gv-lobby");
      $("#gv-lobby-preview").srcObject = local.stream;
      signal.send({ type: "lobby.info" });
      break;
    case "admitted":
      enterCall();
      break;
    case "refused":
      finish(_("You cannot enter"), _("The agent did not let you in. Contact the structure if you think this is a mistake."));
      break;
    case "removed":
      finish(_("You are not in the call"), _("The agent removed you from the call."));
      break;
    case "left":
      finish(_("You left the call"), _("You can join again with the same link."), { rejoin: !moderator });
      break;
  }
}

function enterCall() {
  const first = $("#gv-call").hidden;
  show("gv-call");
  people.set(me.pid, me);
  for (const p of people.values()) stage.update(p, p.pid === me.pid);
  stage.setVideo(me.pid, local.screen ?? local.camera, true);
  renderPeople();
  if (first) announce(_("You are in the call."));
  if (offeredOn !== connection) {
    offeredOn = connection;
    call.start({ audio: local.audio, video: local.screen ?? local.camera });
    sendState();
  }
}

// ---- media ---------------------------------------------------------------------------

function showRemote(remote) {
  for (const pid of stage.tiles.keys()) {
    if (pid === me.pid) continue;
    if (!remote.has(pid)) {
      stage.setVideo(pid, null);
      stage.setAudio(pid, null);
    }
  }
  for (const [pid, tracks] of remote) {
    if (!people.has(pid)) stage.update({ pid, name: _("Participant") });
    stage.setVideo(pid, quality === "audio" ? null : tracks.video ?? null);
    stage.setAudio(pid, tracks.audio ?? null);
  }
}

// Media failover (PROTOCOL.md): a failed peer connection is replaced by a new offer on the
// same socket, with backoff; after a few tries the user also gets advice and the helpdesk.
let mediaTries = 0;
let mediaTimer = null;
function mediaLost(text) {
  if (finished || me.status !== "admitted" || mediaTimer) return;
  mediaTries += 1;
  if (mediaTries >= 3) failure(text);
  const delay = Math.min(10, 2 ** (mediaTries - 1)) * 1000;
  announce(_("Reconnecting the audio and video…"));
  mediaTimer = setTimeout(() => {
    mediaTimer = null;
    if (!signal.open || me.status !== "admitted") return;
    offeredOn = -1;
    enterCall();
  }, delay);
}

function onConnection(state) {
  if (state === "connected") {
    mediaTries = 0;
    recovered();
  } else if (state === "failed") {
    mediaLost(_("The audio and video could not get through."));
  }
}

function sendState() {
  signal.send({ type: "media.state", audio: Boolean(local.audio?.enabled), video: Boolean(local.camera), screen: Boolean(local.screen) });
  me = { ...me, audio: Boolean(local.audio?.enabled), video: Boolean(local.camera), screen: Boolean(local.screen) };
  if (people.has(me.pid)) {
    people.set(me.pid, me);
    stage.update(me, true);
  }
}

function setMic(on) {
  if (!local.audio) return;
  local.audio.enabled = on;
  setPressed($("#gv-btn-mic"), !on, on ? _("Mute") : _("Unmute"));
  sendState();
}

async function setCamera(on) {
  const button = $("#gv-btn-cam");
  if (on) {
    try {
      local.camera = await openVideo(savedDevices().video);
    } catch (error) {
      announce(mediaErrorText(error));
      return;
    }
    local.stream.addTrack(local.camera);
  } else if (local.camera) {
    local.stream.removeTrack(local.camera);
    local.camera.stop(); // the camera light goes off: visibly off
    local.camera = null;
  }
  if (!local.screen) {
    await call.setVideo(local.camera);
    stage.setVideo(me.pid, local.camera, true);
  }
  setPressed(button, !on, on ? _("Stop camera") : _("Start camera"));
  sendState();
}

// Front <-> rear camera (phones), kept for the rest of the call.
let facing = "user";
async function switchCamera() {
  facing = facing === "user" ? "environment" : "user";
  let track;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: facing } } });
    track = stream.getVideoTracks()[0];
  } catch (error) {
    announce(mediaErrorText(error));
    return;
  }
  if (local.camera) {
    local.stream.removeTrack(local.camera);
    local.camera.stop();
  }
  local.camera = track;
  local.stream.addTrack(track);
  if (!local.screen) {
    await call.setVideo(track);
    stage.setVideo(me.pid, track, true);
  }
  setPressed($("#gv-btn-cam"), false, _("Stop camera"));
  sendState();
}

async function setScreen(on) {
  const button = $("#gv-btn-screen");
  if (on) {
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      local.screen = stream.getVideoTracks()[0];
    } catch {
      return; // the user cancelled the browser's picker
    }
    local.screen.addEventListener("ended", () => setScreen(false));
  } else {
    local.screen?.stop();
    local.screen = null;
  }
  await call.setVideo(local.screen ?? local.camera);
  stage.setVideo(me.pid, local.screen ?? local.camera, true);
  setPressed(button, on, on ? _("Stop sharing") : _("Share screen"));
  announce(on ? _("You are sharing your screen.") : _("You stopped sharing your screen."));
  sendState();
}

function setHand(raised) {
  signal.send({ type: "hand.set", raised });
  setPressed($("#gv-btn-hand"), raised, raised ? _("Lower hand") : _("Raise hand"));
  me.hand = raised;
  stage.update(me, true);
}

async function setQuality(value) {
  quality = value;
  document.querySelectorAll(".gv-audio-only").forEach((b) => setPressed(b, value === "audio"));
  signal.send({ type: "quality.set", audio_only: value === "audio" });
  await call.setLowVideo(value !== "high");
  showRemote(call.remote ?? new Map());
  announce(value === "audio" ? _("Audio only: you no longer receive the videos.") : _("Video quality changed."));
}

// One tap for a weak network (waiting room and call): receive no video, send none;
// the tap again brings back normal quality and the camera if it was on.
let cameraBeforeAudioOnly = false;
async function setAudioOnly(on) {
  if (on === (quality === "audio")) return;
  if (on) {
    cameraBeforeAudioOnly = Boolean(local.camera);
    if (local.camera) await setCamera(false);
  } else if (cameraBeforeAudioOnly) {
    await setCamera(true);
  }
  $("#gv-quality-select").value = on ? "audio" : "high";
  await setQuality(on ? "audio" : "high");
}

async function pickDevice(kind, deviceId) {
  try {
    if (kind === "audio") {
      const track = await openAudio(deviceId);
      track.enabled = local.audio?.enabled ?? true;
      await call.setAudio(track);
      if (local.audio) local.stream.removeTrack(local.audio);
      local.audio?.stop();
      local.audio = track;
      local.stream.addTrack(track);
    } else if (local.camera) {
      const track = await openVideo(deviceId);
      if (!local.screen) await call.setVideo(track);
      local.stream.removeTrack(local.camera);
      local.camera.stop();
      local.camera = track;
      local.stream.addTrack(track);
      if (!local.screen) stage.setVideo(me.pid, track, true);
    }
    saveDevices({ [kind]: deviceId });
  } catch (error) {
    announce(mediaErrorText(error));
  }
}

// ---- lists and badges ----------------------------------------------------------------

function badge(node, n) {
  node.hidden = n === 0;
  node.textContent = n ? ` ${n}` : "";
}

function renderPeople() {
  const act = (type, p, text) => {
    if (type === "mod.remove" && !confirm(fmt(_("Remove %(name)s from the call?"), { name: p.name }))) return;
    if (type === "idcheck.start") {
      idcheck.start(p);
      return;
    }
    if (type === "lobby.message") {
      if (signal.send({ type, pid: p.pid, text })) announce(fmt(_("Message sent to %(name)s."), { name: p.name }));
      return;
    }
    signal.send({ type, pid: p.pid });
    if (type === "lobby.admit" || type === "lobby.refuse") {
      lobby.delete(p.pid);
      renderPeople();
    }
  };
  const admitted = [...people.values()];
  $("#gv-people-list").replaceChildren(...admitted.map((p) => personRow(p, { self: p.pid === me.pid, moderator, act })));
  $("#gv-count").textContent = fmt(_("%(n)s in the call"), { n: admitted.length });
  if (moderator) {
    // Re-draw the waiting list only when it changed: a note being typed there survives.
    const key = [...lobby.values()].map((p) => `${p.pid}:${p.name}`).join();
    if (key !== renderPeople.lobbyKey) {
      renderPeople.lobbyKey = key;
      $("#gv-lobby-list").replaceChildren(...[...lobby.values()].map((p) => waitingRow(p, act)));
    }
    $("#gv-lobby-empty").hidden = lobby.size > 0;
    badge($("#gv-waiting"), lobby.size);
  }
}

function setLocked(locked) {
  $("#gv-locked").hidden = !locked;
  const button = $("#gv-lock");
  if (button) setPressed(button, locked, locked ? _("Unlock the room") : _("Lock the room"));
}

// ---- periodic: quality indicator and active speaker ----------------------------------

let lastStats = {};
let poorSaid = false;
async function showQuality() {
  if (!call.pc || $("#gv-call").hidden) return;
  lastStats = await measure(call.pc, lastStats);
  const labels = {
    good: _("Connection: good"),
    average: _("Connection: average"),
    poor: _("Connection: poor"),
    unknown: _("Connection: measuring…"),
  };
  const badgeNode = $("#gv-quality");
  badgeNode.dataset.level = lastStats.level;
  badgeNode.textContent = labels[lastStats.level];
  if (lastStats.level === "poor" && !poorSaid) {
    poorSaid = true;
    announce(_("Your connection is weak. In Settings, choose a lower quality or audio only."));
  }
}

let speaker = null;
let speakerSince = 0;
function showSpeaker() {
  let loudest = null;
  let max = 0.02;
  for (const [pid, tracks] of call.remote ?? []) {
    const level = tracks.receiver?.getSynchronizationSources?.()[0]?.audioLevel ?? 0;
    stage.setSpeaking(pid, level > 0.05);
    if (level > max) [loudest, max] = [pid, level];
  }
  const now = Date.now();
  // Keep the big tile for at least 1.5 s so it does not flicker.
  if (loudest && loudest !== speaker && now - speakerSince > 1500) [speaker, speakerSince] = [loudest, now];
  if (!speaker || !stage.tiles.has(speaker)) speaker = [...stage.tiles.keys()].find((pid) => pid !== me.pid) ?? me.pid;
  stage.setSpeaker(speaker);
}

// ---- wiring --------------------------------------------------------------------------

function typing(target) {
  return target.closest("input, textarea, select, [contenteditable]");
}

function wire() {
  $("#gv-btn-mic").addEventListener("click", () => setMic(!local.audio?.enabled));
  $("#gv-btn-cam").addEventListener("click", () => setCamera(!local.camera));
  $("#gv-btn-hand").addEventListener("click", () => setHand(!me.hand));
  const screenButton = $("#gv-btn-screen");
  // Screen sharing exists on computers only (phones have no getDisplayMedia or no use for it).
  screenButton.hidden = !navigator.mediaDevices?.getDisplayMedia || matchMedia("(pointer: coarse)").matches;
  screenButton.addEventListener("click", () => setScreen(!local.screen));
  $("#gv-btn-view").addEventListener("click", (e) => {
    view = view === "tiles" ? "speaker" : "tiles";
    stage.setView(view);
    setPressed(e.currentTarget, view === "speaker");
  });
  for (const button of document.querySelectorAll('[data-action="leave"]')) {
    button.addEventListener("click", () => {
      signal.send({ type: "leave" });
      finish(_("You left the call"), _("The others stay in the call. You can join again with the same link."), { rejoin: !moderator });
    });
  }
  $("#gv-retry").addEventListener("click", () => {
    recovered();
    signal.retryNow();
    if (signal.open && me.status === "admitted") {
      offeredOn = -1;
      enterCall();
    }
  });
  $("#gv-chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $("#gv-chat-text");
    const text = input.value.trim();
    if (text && signal.send({ type: "chat.send", text })) input.value = "";
  });
  $("#gv-name-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#gv-name").value.trim();
    if (name && signal.send({ type: "name.set", name })) announce(_("Your name was changed."));
  });
  $("#gv-quality-select").addEventListener("change", (e) => setQuality(e.target.value));
  document.querySelectorAll(".gv-audio-only").forEach((b) => b.addEventListener("click", () => setAudioOnly(quality !== "audio")));
  $("#gv-set-camera").addEventListener("change", (e) => pickDevice("video", e.target.value));
  $("#gv-set-mic").addEventListener("change", (e) => pickDevice("audio", e.target.value));
  panel.onChange = (name) => {
    if (name === "chat") badge($("#gv-unread"), (unread = 0));
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
  // Single-key shortcuts can be turned off (WCAG 2.1.4), remembered on this device.
  const shortcuts = $("#gv-shortcuts");
  shortcuts.checked = localStorage.getItem("gv.shortcuts") !== "off";
  shortcuts.addEventListener("change", () => localStorage.setItem("gv.shortcuts", shortcuts.checked ? "on" : "off"));
  document.addEventListener("keydown", (e) => {
    if (!shortcuts.checked || e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || $("#gv-call").hidden) return;
    const keys = {
      m: () => $("#gv-btn-mic").click(),
      v: () => $("#gv-btn-cam").click(),
      h: () => $("#gv-btn-hand").click(),
      c: () => panel.toggle("chat"),
      p: () => panel.toggle("people"),
    };
    const action = keys[e.key.toLowerCase()];
    if (action) {
      e.preventDefault();
      action();
    }
  });
}

async function main() {
  // Guests who came by their personal link skipped the join page's check: report it here.
  const report = (problems) => reportCheck(root.dataset.reportUrl, problems);
  const problem = browserProblem();
  if (problem) {
    report([problem.code]);
    finish(problem.title, problem.text);
    return;
  }
  wire();
  announce(_("Connecting…"));
  try {
    const stream = await openMedia();
    local.audio = stream.getAudioTracks()[0] ?? null;
    local.camera = stream.getVideoTracks()[0] ?? null;
    local.stream = stream;
    report([!local.camera && "no_camera", !local.audio && "no_microphone"].filter(Boolean));
  } catch (error) {
    report(mediaErrorCodes(error));
    announce(mediaErrorText(error)); // join anyway: the citizen can still see and hear
  }
  if (!local.audio) $("#gv-btn-mic").disabled = true;
  if (!local.camera) setPressed($("#gv-btn-cam"), true, _("Start camera"));
  signal.connect();
  timers = [
    setInterval(showQuality, 2000),
    setInterval(showSpeaker, 400),
    setInterval(() => { if (me.status === "waiting") signal.send({ type: "lobby.info" }); }, 15000),
  ];
}

// Diagnostics for support staff and the browser tests.
globalThis.gvDebug = {
  get pc() { return call.pc; },
  get connected() { return signal.open; },
  dropConnection: () => signal.ws?.close(CLOSE.DROPPED), // as a network cut would: the page reconnects
  get tracks() { return call.tracks; },
  received: () => received(call.pc, call.tracks),
  get me() { return me; },
  people: () => [...people.values()],
  lobby: () => [...lobby.values()],
};

main();
