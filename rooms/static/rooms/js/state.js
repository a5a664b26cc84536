// The room page's state: one object, changed only by the named transitions below.
// room.js owns the one RoomState, calls a transition for each event (a server message,
// a button, a timer) and then draws what the transition says changed. Pure: no DOM and
// no browser globals, so tests/js/state.test.js runs it under Node.
//
// Who I am (`me.status`, as the server says in `state` and `participant.*`):
//   waiting ──admitted──▶ admitted ──returnedToLobby──▶ waiting
//   waiting | admitted ──▶ refused | removed | left          (then the end screen)
// `finished` is set once by finish(); the end screen stays, nothing draws after it.
//
// Who else: `people` (admitted, by pid, me included once in the call) and `lobby`
// (waiting, moderators only), kept from `state`, `lobby.*` and `participant.*`.
//
// Offers: an admitted page makes one offer per WebSocket connection (connectionOpened()
// counts them, offerDue() says yes once per connection); forgetOffer() makes the next
// offerDue() say yes again (media failover, "Try again", back from the waiting room).
//
// Media failover (PROTOCOL.md): mediaFailed() schedules one retry at a time with backoff,
// mediaRetryDue() says whether it still applies when due, mediaConnected() resets.
//
// Local media: `local` holds this browser's tracks (audio, camera, screen) and the
// preview stream; only localmedia.js writes them (a camera change goes through its
// replaceCamera).
import { backoff } from "./codes.js";

export const STATUS = Object.freeze({
  WAITING: "waiting",
  ADMITTED: "admitted",
  REFUSED: "refused",
  REMOVED: "removed",
  LEFT: "left",
});

// What participantChanged() did, for the caller to draw.
export const CHANGE = Object.freeze({
  MY_STATUS: "my-status", // my own status changed to something else than admitted: go by status
  IN_CALL: "in-call", // admitted: show or update the tile
  OUT_OF_CALL: "out-of-call", // was in the call, no longer: remove the tile
  ELSEWHERE: "elsewhere", // not in the call before or after (waiting, refused…)
});

const ADVICE_AFTER = 3; // failed media tries before the failure box (advice, helpdesk)

export class RoomState {
  constructor({ pid, name, role }, { stream = null } = {}) {
    this.me = { pid, name, role, status: STATUS.WAITING, audio: true, video: true, hand: false };
    this.moderator = role === "moderator";
    this.people = new Map();
    this.lobby = new Map();
    this.local = { audio: null, camera: null, screen: null, stream };
    this.view = "tiles"; // or "speaker"
    this.quality = "high"; // "low", "audio"
    this.cameraBeforeAudioOnly = false;
    this.facing = "user"; // or "environment" (phones: front / rear camera)
    this.connection = 0; // WebSocket connections opened so far
    this.offeredOn = -1; // the connection on which our offer was made
    this.finished = false;
    this.unread = 0;
    this.mediaTries = 0;
    this.mediaRetryPending = false;
    this.stats = {}; // the last link reading (linkquality.js, set by indicators.js)
    this.lobbyKey = null; // who was drawn in the waiting list
    this.timers = []; // the page's intervals, stopped by finish()
    this.handWanted = null; // my last press on the hand button, until the room agrees
    this.handInFlight = false;
  }

  get admitted() {
    return this.me.status === STATUS.ADMITTED;
  }

  // --- from the server -----------------------------------------------------------------

  // `state`: who I am and who is there, on every (re)connection.
  snapshot({ you, participants, lobby }) {
    this.me = { ...this.me, ...you };
    this.people.clear();
    for (const p of participants ?? []) this.people.set(p.pid, p);
    this.lobby.clear();
    for (const p of lobby ?? []) this.lobby.set(p.pid, p);
  }

  // `lobby.admitted`, `lobby.refused`.
  setStatus(status) {
    this.me.status = status;
  }

  // `lobby.returned`: the call stops (the socket stays); the next admission offers again.
  returnedToLobby() {
    this.people.clear();
    this.me.status = STATUS.WAITING;
    this.offeredOn = -1;
  }

  // `lobby.waiting`.
  waiting(p) {
    this.lobby.set(p.pid, p);
  }

  // `lobby.left`, or this moderator admitted or refused someone.
  leftLobby(pid) {
    this.lobby.delete(pid);
  }

  // `participant.joined` / `participant.updated`: who is where. Returns a CHANGE.
  participantChanged(p) {
    if (p.pid === this.me.pid) {
      this.me = { ...this.me, ...p };
      if (p.status !== STATUS.ADMITTED) return CHANGE.MY_STATUS;
    }
    if (p.status === STATUS.WAITING) this.lobby.set(p.pid, p);
    else this.lobby.delete(p.pid);
    if (p.status === STATUS.ADMITTED) {
      this.people.set(p.pid, p);
      return CHANGE.IN_CALL;
    }
    return this.people.delete(p.pid) ? CHANGE.OUT_OF_CALL : CHANGE.ELSEWHERE;
  }

  // `participant.left`: true if they were in the call.
  participantLeft(pid) {
    this.lobby.delete(pid);
    return this.people.delete(pid);
  }

  // `chat.message` while the chat is closed: the unread count.
  unreadMessage() {
    this.unread += 1;
    return this.unread;
  }

  chatOpened() {
    this.unread = 0;
    return this.unread;
  }

  // --- connection and offers -----------------------------------------------------------

  // The socket opened: returns how many times so far (1: the first).
  connectionOpened() {
    this.connection += 1;
    return this.connection;
  }

  // I am in the call: I am one of the people.
  enteredCall() {
    this.people.set(this.me.pid, this.me);
  }

  // True once per connection: it is time to make our offer (and it counts as made).
  offerDue() {
    if (this.offeredOn === this.connection) return false;
    this.offeredOn = this.connection;
    return true;
  }

  forgetOffer() {
    this.offeredOn = -1;
  }

  // The peer connection failed (or the server has no media node): null if no retry
  // applies (finished, not in the call, one already scheduled), else {delay, advise}.
  mediaFailed() {
    if (this.finished || !this.admitted || this.mediaRetryPending) return null;
    this.mediaTries += 1;
    this.mediaRetryPending = true;
    return { delay: backoff(this.mediaTries - 1), advise: this.mediaTries >= ADVICE_AFTER };
  }

  // The retry's time came: true if it still applies (then our offer is due again).
  mediaRetryDue(socketOpen) {
    this.mediaRetryPending = false;
    if (!socketOpen || !this.admitted) return false;
    this.forgetOffer();
    return true;
  }

  mediaConnected() {
    this.mediaTries = 0;
  }

  // The end screen: false if already shown (it shows once).
  finish() {
    if (this.finished) return false;
    this.finished = true;
    return true;
  }

  // --- my own controls ------------------------------------------------------------------

  // What I send (audio, camera, screen), as `media.state` says it; I am updated too.
  mediaState() {
    const { audio, camera, screen } = this.local;
    const flags = { audio: Boolean(audio?.enabled), video: Boolean(camera), screen: Boolean(screen) };
    this.me = { ...this.me, ...flags };
    if (this.people.has(this.me.pid)) this.people.set(this.me.pid, this.me);
    return flags;
  }

  // The video sent: the screen when shared, else the camera (or nothing).
  get outgoingVideo() {
    return this.local.screen ?? this.local.camera;
  }

  // --- my hand: one hand.set in flight, the last press wins ------------------------------
  // A double tap is faster than the server's answers, and a press can be refused (rate
  // limit): the button must end up saying what the room sees. `me.hand` is the server's.

  get handShown() {
    return this.handWanted ?? this.me.hand;
  }

  // The button was pressed: the value to send now, or null (one is in flight; the
  // answer to it sends this one if it still differs).
  pressHand() {
    this.handWanted = !this.handShown;
    if (this.handInFlight) return null;
    this.handInFlight = true;
    return this.handWanted;
  }

  // My own `participant.updated` (or a new connection's `state`): the value to send
  // again if the room's still differs from the last press, else null.
  handAnswered() {
    this.handInFlight = false;
    if (this.handWanted === null || this.handWanted === this.me.hand || !this.admitted) {
      this.handWanted = null;
      return null;
    }
    this.handInFlight = true;
    return this.handWanted;
  }

  // Refused (rate limited) or lowered by a moderator: the room's value stands.
  handSettled() {
    this.handInFlight = false;
    this.handWanted = null;
  }

  toggleView() {
    this.view = this.view === "tiles" ? "speaker" : "tiles";
    return this.view;
  }

  setQuality(value) {
    this.quality = value;
  }

  get audioOnly() {
    return this.quality === "audio";
  }

  // Audio only on: remember whether the camera was on, to bring it back after.
  // Returns what to do with the camera: "stop", "start" or null.
  audioOnlyCamera(on) {
    if (on) {
      this.cameraBeforeAudioOnly = Boolean(this.local.camera);
      return this.local.camera ? "stop" : null;
    }
    return this.cameraBeforeAudioOnly ? "start" : null;
  }

  // Front ⇄ rear camera; returns the facing mode to ask for.
  flipFacing() {
    this.facing = this.facing === "user" ? "environment" : "user";
    return this.facing;
  }

  // --- indicators ---------------------------------------------------------------------

  // The waiting list to draw: true if it changed since last drawn (a note being typed
  // in an unchanged list survives).
  lobbyChanged() {
    const key = [...this.lobby.values()].map((p) => `${p.pid}:${p.name}:${p.online}`).join();
    if (key === this.lobbyKey) return false;
    this.lobbyKey = key;
    return true;
  }
}
