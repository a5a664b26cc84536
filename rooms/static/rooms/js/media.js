// The one RTCPeerConnection to the media server (media/engine/__init__.py):
// the browser offers once (sendrecv audio + video), then answers the server's offers.
// aiortc does not trickle ICE: every SDP is sent after gathering, capped in time.

const GATHER_CAP = 3000;
const CONNECT_CAP = 20000;

function gathered(pc, cap = GATHER_CAP) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, cap);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

// Pure helpers (tests/js/media.test.js) ------------------------------------------------

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

// Send encodings for a weak link (a quarter of the pixels at 150 kbit/s) or back to
// normal; changes `encodings` in place (they go back to setParameters) and returns them.
export function lowEncodings(encodings, low) {
  for (const encoding of encodings) {
    if (low) Object.assign(encoding, { maxBitrate: 150_000, scaleResolutionDownBy: 2 });
    else {
      delete encoding.maxBitrate;
      encoding.scaleResolutionDownBy = 1;
    }
  }
  return encodings;
}

export class Call {
  constructor({ send, iceServers, onRemote, onConnection }) {
    Object.assign(this, { send, iceServers, onRemote, onConnection });
    this.pc = null;
    this.tracks = {};
    this.queue = Promise.resolve();
  }

  // Negotiation steps run one after the other; a step for a closed connection is dropped.
  enqueue(step) {
    const pc = this.pc;
    this.queue = this.queue.then(() => (pc === this.pc && pc ? step(pc) : null)).catch((error) => {
      console.warn("negotiation", error);
    });
    return this.queue;
  }

  start({ audio, video }) {
    this.close();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers ?? [] });
    this.pc = pc;
    this.tracks = {};
    this.audio = pc.addTransceiver(audio ?? "audio", { direction: "sendrecv" });
    this.video = pc.addTransceiver(video ?? "video", { direction: "sendrecv" });
    pc.addEventListener("track", () => this.remap(pc));
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      if (pc.connectionState === "connected") clearTimeout(this.connectTimer);
      this.onConnection?.(pc.connectionState);
    });
    // On a network that drops UDP the state may never reach "failed": give up after a while.
    this.connectTimer = setTimeout(() => {
      if (pc === this.pc && pc.connectionState !== "connected") this.onConnection?.("failed");
    }, CONNECT_CAP);
    return this.enqueue(async () => {
      // The browser's own offer: the server keeps its numbering in every later offer
      // (media/engine/numbering.py), whatever the browser (Chromium, Firefox, Safari).
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      this.send({ type: "rtc.offer", sdp: pc.localDescription.sdp });
    });
  }

  answered({ sdp, tracks }) {
    return this.enqueue(async (pc) => {
      if (pc.signalingState !== "have-local-offer") return;
      await pc.setRemoteDescription({ type: "answer", sdp });
      this.tracks = tracks ?? {};
      this.remap(pc);
    });
  }

  offered({ sdp, tracks }) {
    return this.enqueue(async (pc) => {
      await pc.setRemoteDescription({ type: "offer", sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered(pc);
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

  setAudio(track) {
    return this.audio?.sender.replaceTrack(track);
  }

  setVideo(track) {
    return this.video?.sender.replaceTrack(track);
  }

  // Weak link: send a quarter of the pixels at a low bitrate.
  async setLowVideo(low) {
    const sender = this.video?.sender;
    if (!sender) return;
    const params = sender.getParameters();
    if (!params.encodings?.length) return;
    lowEncodings(params.encodings, low);
    await sender.setParameters(params).catch((e) => console.warn("setParameters", e));
  }

  close() {
    clearTimeout(this.connectTimer);
    this.pc?.close();
    this.pc = null;
    this.remote = new Map();
  }
}
