// The peer connection's negotiation (rooms/static/rooms/js/media.js, Call) against a fake
// RTCPeerConnection: the waiting room's prepared connection meeting admission (issue 21).
import { afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { Call } from "../../rooms/static/rooms/js/media.js";

// Just what Call uses: transceivers get mids at setLocalDescription, gathering completes
// when the test says so, close() ends everything. An operation named in `stalled` waits
// until close() and then never settles, as in Chromium (the spec's "abort these steps";
// checked on /usr/bin/chromium: createOffer, setLocalDescription, setRemoteDescription).
class FakePeerConnection extends EventTarget {
  static made = [];
  static stalled = new Set();
  static late = new Set(); // ...or settles when the test calls resume() (a browser unlike Chromium)

  constructor() {
    super();
    Object.assign(this, {
      transceivers: [], signalingState: "stable", iceGatheringState: "new", connectionState: "new",
      localDescription: null, remoteDescription: null,
    });
    FakePeerConnection.made.push(this);
  }

  addTransceiver(trackOrKind) {
    const t = { mid: null, currentDirection: null, sender: { track: null, replaceTrack(track) { this.track = track; } },
      receiver: { track: { id: `r${this.transceivers.length}` } }, kind: trackOrKind };
    this.transceivers.push(t);
    return t;
  }

  getTransceivers() { return this.transceivers; }

  // Resolved at once, or (a `stalled` operation) never: the test closes the connection.
  operation(name) {
    if (FakePeerConnection.stalled.has(name)) return new Promise(() => {});
    if (FakePeerConnection.late.has(name)) return new Promise((resolve) => { this.resume = resolve; });
    return Promise.resolve();
  }

  async createOffer() {
    await this.operation("createOffer");
    return { type: "offer", sdp: `v=0\r\no=fake ${FakePeerConnection.made.indexOf(this)}\r\n` }; }

  async createAnswer() { return { type: "answer", sdp: "v=0\r\n" }; }

  async setLocalDescription(description) {
    await this.operation("setLocalDescription");
    this.localDescription = description;
    this.signalingState = "have-local-offer";
    this.transceivers.forEach((t, i) => { t.mid = String(i); });
    this.iceGatheringState = "gathering";
  }

  async setRemoteDescription(description) {
    if (this.signalingState === "closed") throw new Error("closed");
    await this.operation("setRemoteDescription");
    this.remoteDescription = description;
    this.signalingState = "stable";
  }

  completeGathering() {
    this.iceGatheringState = "complete";
    this.dispatchEvent(new Event("icegatheringstatechange"));
  }

  close() {
    this.signalingState = "closed";
    this.connectionState = "closed";
  }
}

globalThis.RTCPeerConnection = FakePeerConnection;

const calls = [];
// Closed after each test: an open one keeps its 20 s connection timer running.
afterEach(() => {
  for (const c of calls.splice(0)) c.close();
  FakePeerConnection.stalled = new Set();
  FakePeerConnection.late = new Set();
});

function call() {
  const sent = [];
  const remotes = [];
  const c = new Call({ send: (m) => sent.push(m), onRemote: (r) => remotes.push(r) });
  calls.push(c);
  return { c, sent, remotes };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const agentTracks = { 2: { participant_id: "agent", kind: "audio" }, 3: { participant_id: "agent", kind: "video" } };

test("admitted while the waiting room's offer gathers: only the new connection offers, at once", async () => {
  const { c, sent } = call();
  c.prepare();
  await settle();
  const held = c.pc;
  assert.equal(held.iceGatheringState, "gathering");
  const started = Date.now();
  c.start({ audio: "mic", video: "cam" });
  await settle();
  c.pc.completeGathering();
  await c.queue;
  assert.ok(Date.now() - started < 1000, "the closed connection's gathering is not waited for");
  assert.deepEqual(sent.map((m) => [m.type, m.n]), [["rtc.offer", 1]]);
  assert.equal(held.connectionState, "closed");
  await c.answered({ sdp: "answer", tracks: agentTracks, n: 1 });
  assert.equal(c.pc.remoteDescription.sdp, "answer");
  assert.deepEqual([...c.remote.keys()], ["agent"]);
});

test("the waiting room's answer is never applied to the connection that replaced it", async () => {
  const { c, sent } = call();
  c.prepare();
  await settle();
  c.pc.completeGathering();
  await c.queue;
  assert.deepEqual(sent.map((m) => [m.type, m.n]), [["rtc.prepare", 1]]);
  // Admitted without tracks (the prepared connection failed on the server): the page offers.
  c.start({ audio: "mic", video: "cam" });
  await settle();
  c.pc.completeGathering();
  await c.queue;
  assert.deepEqual(sent.map((m) => [m.type, m.n]), [["rtc.prepare", 1], ["rtc.offer", 2]]);
  await c.answered({ sdp: "stale", tracks: {}, n: 1 });
  assert.equal(c.pc.remoteDescription, null);
  assert.equal(c.pc.signalingState, "have-local-offer");
  await c.answered({ sdp: "fresh", tracks: agentTracks, n: 2 });
  assert.equal(c.pc.remoteDescription.sdp, "fresh");
  assert.deepEqual([...c.remote.keys()], ["agent"]);
});

test("released at admission before the waiting room's answer: admission's tracks stay", async () => {
  const { c, sent } = call();
  c.prepare();
  await settle();
  c.pc.completeGathering();
  await c.queue;
  assert.ok(c.release({ audio: "mic", video: "cam" }, agentTracks));
  assert.equal(c.audio.sender.track, "mic");
  assert.equal(c.video.sender.track, "cam");
  await c.answered({ sdp: "prepared", tracks: {}, n: sent[0].n });
  assert.equal(c.pc.remoteDescription.sdp, "prepared");
  assert.deepEqual(c.tracks, agentTracks);
  assert.deepEqual([...c.remote.keys()], ["agent"]);
  // A second answer for the same offer (a duplicate) changes nothing.
  await c.answered({ sdp: "again", tracks: {}, n: sent[0].n });
  assert.equal(c.pc.remoteDescription.sdp, "prepared");
});

test("held: tracks are not attached before release; a closed connection is not released", async () => {
  const { c } = call();
  c.prepare();
  await settle();
  c.setAudio("mic");
  assert.equal(c.audio.sender.track, null);
  c.close();
  assert.equal(c.release({ audio: "mic", video: "cam" }, agentTracks), false);
});

// The phone's stuck call (CI, test_a_second_device_takes_the_call_over): admitted while its
// waiting-room connection was mid-operation, the page closed it and offered on a new one,
// but the closed one's step never settled and every later step waited behind it.
for (const operation of ["createOffer", "setLocalDescription"]) {
  test(`admitted during the waiting room's ${operation}: the new connection still offers`, async () => {
    const { c, sent } = call();
    FakePeerConnection.stalled = new Set([operation]);
    c.prepare();
    await settle();
    FakePeerConnection.stalled = new Set();
    const held = c.pc;
    c.start({ audio: "mic", video: "cam" });
    assert.equal(held.connectionState, "closed");
    await settle();
    c.pc.completeGathering();
    await c.queue;
    assert.deepEqual(sent.map((m) => [m.type, m.n]), [["rtc.offer", 1]]);
    await c.answered({ sdp: "answer", tracks: agentTracks, n: 1 });
    assert.equal(c.pc.remoteDescription.sdp, "answer");
  });
}

test("a connection closed while applying an answer does not hold up the next one", async () => {
  const { c, sent } = call();
  c.prepare();
  await settle();
  c.pc.completeGathering();
  await c.queue;
  FakePeerConnection.stalled = new Set(["setRemoteDescription"]);
  c.answered({ sdp: "prepared", tracks: {}, n: sent[0].n });
  await settle();
  FakePeerConnection.stalled = new Set();
  c.start({ audio: "mic", video: "cam" });
  await settle();
  c.pc.completeGathering();
  await c.queue;
  assert.deepEqual(sent.map((m) => m.type), ["rtc.prepare", "rtc.offer"]);
  await c.answered({ sdp: "fresh", tracks: agentTracks, n: sent[1].n });
  assert.equal(c.pc.remoteDescription.sdp, "fresh");
  assert.deepEqual([...c.remote.keys()], ["agent"]);
});

test("a step let go that settles late (a browser unlike Chromium) changes nothing of the new connection", async () => {
  const { c, sent } = call();
  c.prepare();
  await settle();
  c.pc.completeGathering();
  await c.queue;
  const old = c.pc;
  FakePeerConnection.late = new Set(["setRemoteDescription"]);
  c.offered({ sdp: "server offer", tracks: { 9: { participant_id: "stale", kind: "video" } } });
  await settle();
  FakePeerConnection.late = new Set();
  c.start({ audio: "mic", video: "cam" });
  await settle();
  c.pc.completeGathering();
  await c.queue;
  await c.answered({ sdp: "fresh", tracks: agentTracks, n: sent.at(-1).n });
  old.resume();
  await settle();
  old.completeGathering();
  await settle();
  assert.deepEqual(sent.map((m) => m.type), ["rtc.prepare", "rtc.offer"]); // no answer from the closed one
  assert.deepEqual(c.tracks, agentTracks);
  assert.deepEqual([...c.remote.keys()], ["agent"]);
});
