// The one RTCPeerConnection to the media server (media/engine/__init__.py):
// the browser offers once (sendrecv audio + video, and receive-only slots the room's
// tracks come on: the server's answer carries them), then answers the server's offers.
// A guest prepares it in the waiting room (rooms/PROTOCOL.md, "Media"): the same offer,
// nothing sent until admitted (`held`), then its tracks go out without another offer.
// aiortc does not trickle ICE: every SDP is sent after gathering, capped in time.

const GATHER_CAP = 3000;
const CONNECT_CAP = 20000;
const SLOTS = 2; // receive-only audio + video pairs: an appointment's agent and one more

// Resolved when gathering completes, after `cap` ms, or at once when `stop` aborts (the
// connection was closed: a closed one never completes, its offer waits for nothing).
function gathered(pc, cap = GATHER_CAP, stop = undefined) {
  if (pc.iceGatheringState === "complete" || stop?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      stop?.removeEventListener("abort", done);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, cap);
    pc.addEventListener("icegatheringstatechange", check);
    stop?.addEventListener("abort", done);
  });
}

// Resolved when `stop` aborts (never without one).
function aborted(stop) {
  return new Promise((resolve) => {
    if (stop?.aborted) resolve();
    else stop?.addEventListener("abort", () => resolve(), { once: true });
  });
}

// Pure helpers (tests/js/media.test.js) ------------------------------------------------

// What this browser asks of Opus senders, in its own descriptions: in-band FEC (a lost
// packet is rebuilt from the next one) and DTX (silence costs almost nothing on a weak
// uplink). The engine asks the same in its descriptions (media/engine/aiortc_hooks.py), so
// each Chromium sends FEC and DTX, and the engine forwards them as they are.
const OPUS_ASKS = ["useinbandfec=1", "usedtx=1"];

// The description with OPUS_ASKS added to every Opus payload type's fmtp line (created
// if absent); parameters already there are kept.
export function withOpusParameters(sdp) {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(eol);
  const opus = new Set();
  for (const line of lines) {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    if (m) opus.add(m[1]);
  }
  const withFmtp = new Set();
  const out = lines.map((line) => {
    const m = /^a=fmtp:(\d+) (.*)$/.exec(line);
    if (!m || !opus.has(m[1])) return line;
    withFmtp.add(m[1]);
    const params = m[2].split(";").filter(Boolean);
    const names = new Set(params.map((p) => p.split("=")[0].trim()));
    const added = OPUS_ASKS.filter((a) => !names.has(a.split("=")[0]));
    return `a=fmtp:${m[1]} ${[...params, ...added].join(";")}`;
  });
  // An Opus payload type without fmtp: one after its rtpmap line.
  return out.flatMap((line) => {
    const m = /^a=rtpmap:(\d+) opus\/48000/i.exec(line);
    return m && !withFmtp.has(m[1]) ? [line, `a=fmtp:${m[1]} ${OPUS_ASKS.join(";")}`] : [line];
  }).join(eol);
}

// participant id → {audio, video, receiver}: the receiving transceivers named by the
// server's `tracks` map (mid → {participant_id, kind}); our own sending transceivers
// (`own`) and inactive ones are left out.
export function remoteTracks(transceivers, tracks, own = []) {
  const remote = new Map();
  for (const t of transceivers) {
    const info = t.mid != null ? tracks[t.mid] : null;
    if (!info || own.includes(t) || t.currentDirection === "inactive") continue;
    const entry = remote.get(info.participant_id) ?? {};
    entry[info.kind] = t.receiver.track;
    if (info.kind === "audio") entry.receiver = t.receiver;
    remote.set(info.participant_id, entry);
  }
  return remote;
}

// What the camera's sender asks of its encoder (`params` from getParameters, changed in
// place and returned for setParameters). A weak link (`low`) sends a quarter of the pixels at
// 150 kbit/s. During an ID check (`card`) every pixel is kept, the link's cap included, and the
// frame rate falls instead ("maintain-resolution"; by default Chromium keeps the frame rate and
// scales down, to 320x180 in a call's first seconds): the card's characters are 5-9 px wide at
// 640x480 and a still card needs sharp frames, not many (media/idcheck/README.md).
export function videoParameters(params, { low = false, card = false } = {}) {
  for (const encoding of params.encodings ?? []) {
    if (low) encoding.maxBitrate = 150_000;
    else delete encoding.maxBitrate;
    encoding.scaleResolutionDownBy = low && !card ? 2 : 1;
  }
  // Otherwise unset, as the browser has it: Chromium then keeps the frame rate for a camera.
  if (card) params.degradationPreference = "maintain-resolution";
  else delete params.degradationPreference;
  return params;
}

export class Call {
  constructor({ send, iceServers, onRemote, onConnection }) {
    Object.assign(this, { send, iceServers, onRemote, onConnection });
    this.pc = null;
    this.tracks = {};
    this.queue = Promise.resolve();
    this.sent = 0; // offers sent: each carries its number `n`, echoed in its answer
    this.awaiting = null; // {n, pc, prepare}: the offer whose answer is due
    this.low = false; // what the camera's sender is asked (applyVideo)
    this.card = false;
  }

  // Negotiation steps run one after the other; a step for a closed connection is dropped,
  // and one running when its connection closes is let go: Chromium never settles an
  // operation of a connection closed under it, and the next connection's offer would wait
  // behind it for ever (a guest admitted during its waiting-room offer).
  enqueue(step) {
    const pc = this.pc;
    const stop = this.stop?.signal;
    const run = () => (pc === this.pc && pc ? Promise.race([step(pc), aborted(stop)]) : null);
    this.queue = this.queue.then(run).catch((error) => {
      console.warn("negotiation", error);
    });
    return this.queue;
  }

  start({ audio, video }) {
    return this.open({ audio, video }, false);
  }

  // The waiting room's connection: made now, sending nothing, receiving nothing (the
  // server holds it out of the call) until `release` at admission.
  prepare() {
    return this.open({}, true);
  }

  // Admitted with the prepared connection (`lobby.admitted` with `tracks`): my tracks go
  // out on the negotiated senders, the room's arrive on the slots. False if it is gone.
  release({ audio, video }, tracks) {
    const pc = this.pc;
    if (!this.held || !pc || ["failed", "closed"].includes(pc.connectionState)) return false;
    this.held = false;
    this.audio.sender.replaceTrack(audio ?? null);
    this.video.sender.replaceTrack(video ?? null);
    this.tracks = tracks ?? {};
    this.remap(pc);
    if (pc.connectionState === "connected") {
      this.connected();
      this.onConnection?.("connected");
    }
    return true;
  }

  open({ audio, video }, held) {
    this.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers ?? [] });
    this.pc = pc;
    this.held = held;
    this.tracks = {};
    this.audio = pc.addTransceiver((!held && audio) || "audio", { direction: "sendrecv" });
    this.video = pc.addTransceiver((!held && video) || "video", { direction: "sendrecv" });
    for (let i = 0; i < SLOTS; i++) {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    pc.addEventListener("track", () => this.remap(pc));
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      if (this.held) { // not in the call yet: a failed one is dropped, admission then offers
        if (pc.connectionState === "failed") this.close();
        return;
      }
      if (pc.connectionState === "connected") this.connected();
      this.onConnection?.(pc.connectionState);
    });
    // On a network that drops UDP the state may never reach "failed": give up after a while.
    this.connectTimer = setTimeout(() => {
      if (pc !== this.pc || pc.connectionState === "connected") return;
      if (this.held) this.close();
      else this.onConnection?.("failed");
    }, CONNECT_CAP);
    const stop = new AbortController();
    this.stop = stop;
    return this.enqueue(async () => {
      // The browser's own offer: the server keeps its numbering in every later offer
      // (media/engine/numbering.py), whatever the browser (Chromium, Firefox, Safari).
      const offer = await pc.createOffer();
      await pc.setLocalDescription({ type: "offer", sdp: withOpusParameters(offer.sdp) });
      await gathered(pc, GATHER_CAP, stop.signal);
      // Replaced while gathering (a guest admitted while its waiting-room offer was being
      // made): the replacement offers; this one is never sent.
      if (pc !== this.pc) return;
      const n = ++this.sent;
      this.awaiting = { n, pc, prepare: held };
      this.send({ type: held ? "rtc.prepare" : "rtc.offer", sdp: pc.localDescription.sdp, n });
    });
  }

  connected() {
    clearTimeout(this.connectTimer);
    if (this.low || this.card) this.applyVideo();
    globalThis.performance?.mark?.("gv:pc-connected"); // bench/first_frame_bench.py
  }

  // The answer to our last offer, by its number: an answer to an offer since replaced (the
  // waiting room's, a closed connection's) is dropped, never applied to the new connection.
  answered({ sdp, tracks, n }) {
    return this.enqueue(async (pc) => {
      const awaited = this.awaiting;
      if (!awaited || awaited.pc !== pc || (n !== undefined && n !== awaited.n)) return;
      if (pc.signalingState !== "have-local-offer") return;
      this.awaiting = null;
      await pc.setRemoteDescription({ type: "answer", sdp });
      if (pc !== this.pc) return; // let go (enqueue), settled late: the new connection's state stays
      // The waiting room's answer carries no tracks: those `release` took from admission stay.
      if (!awaited.prepare) this.tracks = tracks ?? {};
      this.remap(pc);
    });
  }

  offered({ sdp, tracks }) {
    return this.enqueue(async (pc) => {
      await pc.setRemoteDescription({ type: "offer", sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription({ type: "answer", sdp: withOpusParameters(answer.sdp) });
      await gathered(pc);
      if (pc !== this.pc) return; // let go (enqueue): no answer from a closed connection
      this.send({ type: "rtc.answer", sdp: pc.localDescription.sdp });
      this.tracks = tracks ?? {};
      this.remap(pc);
    });
  }

  // participant id → {audio, video} receiving tracks, from the server's `tracks` map.
  remap(pc) {
    if (pc !== this.pc) return;
    this.remote = remoteTracks(pc.getTransceivers(), this.tracks, [this.audio, this.video]);
    this.onRemote?.(this.remote);
  }

  // Held (waiting room): nothing is attached; `release` attaches what is current then.
  setAudio(track) {
    return this.held ? undefined : this.audio?.sender.replaceTrack(track);
  }

  setVideo(track) {
    return this.held ? undefined : this.video?.sender.replaceTrack(track);
  }

  // Weak link: send a quarter of the pixels at a low bitrate.
  setLowVideo(low) {
    this.low = low;
    return this.applyVideo();
  }

  // ID check: send the camera's every pixel (videoParameters).
  setCardVideo(card) {
    this.card = card;
    return this.applyVideo();
  }

  // The sender's parameters as `low` and `card` say; also once a connection is up, since a
  // new connection's sender starts from the browser's defaults.
  async applyVideo() {
    const sender = this.video?.sender;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    videoParameters(params, { low: this.low, card: this.card });
    await sender.setParameters(params).catch((e) => console.warn("setParameters", e));
  }

  close() {
    clearTimeout(this.connectTimer);
    this.stop?.abort();
    this.pc?.close();
    this.pc = null;
    this.held = false;
    this.remote = new Map();
  }
}
