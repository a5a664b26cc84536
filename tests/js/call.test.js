// The peer connection's negotiation (rooms/static/rooms/js/media.js, Call) against a fake
// RTCPeerConnection: the waiting room's prepared connection meeting admission (issue 21).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Call } from "../../rooms/static/rooms/js/media.js";

// Just what Call uses: transceivers get mids at setLocalDescription, gathering completes
// when the test says so, close() ends everything.
class FakePeerConnection extends EventTarget {
  static made = [];

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

  async createOffer() { return { type: "offer", sdp: `v=0\r\no=fake ${FakePeerConnection.made.indexOf(this)}\r\n` }; }

  async setLocalDescription(description) {
    this.localDescription = description;
    this.signalingState = "have-local-offer";
    this.transceivers.forEach((t, i) => { t.mid = String(i); });
    this.iceGatheringState = "gathering";
  }

  async setRemoteDescription(description) {
    if (this.signalingState === "closed") throw new Error("closed");
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

function call() {
  const sent = [];
  const remotes = [];
  const c = new Call({ send: (m) => sent.push(m), onRemote: (r) => remotes.push(r) });
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
