// An honest connection indicator (issue 25), from what actually arrives and what the
// media server reports of what we send. Pure: LinkMonitor reads getStats values (plain
// objects) and LinkPolicy decides advice and the automatic audio-only switch, so
// tests/js/linkquality.test.js runs both under Node.
//
// Why not the round trip and the loss alone (what stats.js once graded): when nothing arrives,
// loss is 0/0 and the last RTT stays in the stats, so a dead link looked "good".

export const LEVELS = ["unknown", "good", "average", "poor"];
const rank = (level) => LEVELS.indexOf(level);

// Media expected and nothing for this long: poor. Alone in the call only RTCP and consent
// checks arrive (aiortc sends RTCP every 0.5-1.5 s), hence a longer wait on the transport.
export const SILENT_MEDIA_MS = 1000;
export const SILENT_TRANSPORT_MS = 3000;
const MIN_PACKETS = 20; // fewer packets in a reading: no loss ratio from it
// "Severe" loss is judged over this long, not per reading: the server's receiver reports
// (our uplink's loss) come once a second per stream and are themselves lost at 10% loss, so
// a 500 ms reading could see 1-2 s of loss over 0.5 s of packets sent — 20-40% at 10% loss,
// which switched pages to audio only (bench/weak_network_bench.py, 10% loss + 80 ms).
export const SEVERE_LOSS_WINDOW_MS = 3000;
const RECOVER_MS = 3000; // a better level is shown only once it held this long
// An outage: media expected and nothing for this long (Opus DTX still sends a packet every
// 400 ms), and the recovery after it. A freeze that ends in one, and the packets it lost, are
// the outage's: a deeper video buffer cannot cover a silence (playout.js), and audio only
// saves no bandwidth on a link that carries nothing (LinkPolicy). They count as `outageFrozenMs`,
// not as `freezes`/`frozenMs`/`loss`. Without this a 1.5 s outage raised the video buffer to
// 300 ms and, through lip sync, the audio delay past "poor" for the next 20 s (CI, 2026-11-30).
export const OUTAGE_MS = 600;
export const OUTAGE_RECOVERY_MS = 1500; // the engine brings video back within this after one

// [average, poor] thresholds.
export const THRESHOLDS = {
  rtt: [0.3, 0.6], // s, fresh measures only
  loss: [0.02, 0.08], // ratio, each direction
  jitterBuffer: [0.1, 0.3], // s, mean audio jitter-buffer delay over the reading
  concealment: [0.03, 0.08], // ratio of audio samples concealed over the reading
};

// The counters of one getStats report that the assessment compares between readings.
export function snapshot(stats) {
  const s = {
    at: 0, inStreams: 0, inPackets: 0, lastIn: null,
    freezes: 0, frozen: 0, jbDelay: 0, jbEmitted: 0, vjbDelay: 0, vjbEmitted: 0, concealed: 0, samples: 0,
    remoteRtt: null, remoteRttCount: 0, limited: false,
    pairRtt: null, pairResponses: 0, pairBytes: 0, lastPair: null,
    // Per stream (SSRC) for the loss each way: a stream that comes or goes between two
    // reports (a track added or removed) must not read as its whole cumulative loss in one
    // window (lossBetween).
    inBy: new Map(), outBy: new Map(), upBy: new Map(),
  };
  const key = (r) => r.ssrc ?? r.kind;
  const all = [...stats];
  let pairId = null;
  for (const r of all) if (r.type === "transport" && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId;
  for (const r of all) {
    s.at = Math.max(s.at, r.timestamp ?? 0);
    if (r.type === "inbound-rtp") {
      s.inStreams += 1;
      s.inPackets += r.packetsReceived ?? 0;
      s.inBy.set(key(r), { got: r.packetsReceived ?? 0, lost: Math.max(0, r.packetsLost ?? 0) });
      if (r.lastPacketReceivedTimestamp != null) s.lastIn = Math.max(s.lastIn ?? 0, r.lastPacketReceivedTimestamp);
      if (r.kind === "video") {
        s.freezes += r.freezeCount ?? 0;
        s.frozen += r.totalFreezesDuration ?? 0;
        s.vjbDelay += r.jitterBufferDelay ?? 0;
        s.vjbEmitted += r.jitterBufferEmittedCount ?? 0;
      } else {
        s.jbDelay += r.jitterBufferDelay ?? 0;
        s.jbEmitted += r.jitterBufferEmittedCount ?? 0;
        s.concealed += r.concealedSamples ?? 0;
        s.samples += r.totalSamplesReceived ?? 0;
      }
    } else if (r.type === "outbound-rtp") {
      s.outBy.set(key(r), r.packetsSent ?? 0);
      if (r.kind === "video" && r.qualityLimitationReason === "bandwidth") s.limited = true;
    } else if (r.type === "remote-inbound-rtp") {
      s.upBy.set(key(r), Math.max(0, r.packetsLost ?? 0));
      s.remoteRttCount += r.roundTripTimeMeasurements ?? 0;
      if (r.roundTripTime != null) s.remoteRtt = Math.max(s.remoteRtt ?? 0, r.roundTripTime);
    } else if (r.type === "candidate-pair" && (r.id === pairId || (!pairId && r.nominated && r.state === "succeeded"))) {
      s.pairRtt = r.currentRoundTripTime ?? null;
      s.pairResponses = r.responsesReceived ?? 0;
      s.pairBytes = r.bytesReceived ?? 0;
      s.lastPair = r.lastPacketReceivedTimestamp ?? null;
    }
  }
  return s;
}

// What says something of this browser's own link (its hop to the media server, each way),
// as opposed to freezes, delay and concealment, which the other side's link causes too:
// the server forwards with its own sequence numbers, so "loss" is our hop only.
const OWN_LINK = new Set(["silent", "loss", "rtt"]);

// Beyond "poor": what makes video pointless on our own hop (the automatic audio only).
// 10% loss is poor, but FEC and NACK keep a picture going through it.
export const SEVERE = { loss: 0.2, rtt: 1.0 };

const grade = (value, [average, poor]) => (value >= poor ? "poor" : value >= average ? "average" : "good");

const finding = (what, value) => ({ what, value, level: grade(value, THRESHOLDS[what]) });

function worst(findings) {
  let level = "unknown";
  for (const f of findings) if (rank(f.level) > rank(level)) level = f.level;
  return level;
}

// Reads successive reports; `update` returns {level, down, up, reasons} where down is what
// arrives here, up what the server receives from us, reasons the findings not "good".
export class LinkMonitor {
  constructor() {
    this.previous = null;
    this.lastInAt = null; // when inbound packets were last seen to grow (browsers without lastPacketReceivedTimestamp)
    this.lastPairAt = null;
    this.shown = "unknown";
    this.betterSince = null;
    this.rtt = null; // s, the last fresh round trip measured
    this.lossLog = []; // snapshots of the last few seconds (severe loss)
    this.upMost = new Map(); // the highest cumulative loss the server reported, per stream
    this.outageSince = null; // an outage going on since then
    this.recoveringUntil = null; // the outage's recovery ends then
    this.history = []; // the last readings (diagnostics and the browser tests)
  }

  update(stats) {
    const cur = snapshot(stats);
    // The server's cumulative loss per stream, never taken back: in the 10% loss bench one
    // stream's count read 0 in every other report (stale reports aiortc sent beside the
    // engine's, since stopped: aiortc_hooks.unreported_receiver), which made 3 s windows of
    // 30-89% "severe" and switched pages to audio only.
    for (const [id, lost] of cur.upBy) {
      const most = Math.max(lost, this.upMost.get(id) ?? 0);
      cur.upBy.set(id, most);
      this.upMost.set(id, most);
    }
    const prev = this.previous;
    this.previous = cur;
    const now = cur.at;
    if (!prev || cur.inPackets > prev.inPackets) this.lastInAt = cur.inPackets > 0 ? now : this.lastInAt;
    if (!prev || cur.pairBytes > prev.pairBytes) this.lastPairAt = cur.pairBytes > 0 ? now : this.lastPairAt;
    const down = [];
    const up = [];
    let frozenMs = 0; // in video freezes that ended since the last reading
    let newFreezes = 0;
    let audioDelayMs = null; // the audio jitter buffer's mean delay over the reading (playout.js)
    let videoDelayMs = null; // the video jitter buffer's, likewise (playout.js: whether its target holds the video)

    // Silence: the first thing a dead link shows, and the only one while it lasts.
    const receiving = cur.inPackets > 0;
    const lastIn = cur.lastIn ?? this.lastInAt;
    const lastPair = cur.lastPair ?? this.lastPairAt;
    const last = receiving ? lastIn : lastPair;
    const silentMs = last == null ? null : now - last;
    if (receiving && lastIn != null && now - lastIn >= SILENT_MEDIA_MS) {
      down.push({ what: "silent", level: "poor" });
    } else if (!receiving && lastPair != null && now - lastPair >= SILENT_TRANSPORT_MS) {
      down.push({ what: "silent", level: "poor" });
    } else if (receiving || lastPair != null) {
      down.push({ what: "arriving", level: "good" });
    }
    const outage = this.outageState(receiving ? silentMs : null, now);
    let outageFrozenMs = 0;
    if (prev) {
      const loss = outage ? { down: null, up: null } : lossBetween(prev, cur);
      if (loss.down != null) down.push(finding("loss", loss.down));
      newFreezes = Math.max(0, cur.freezes - prev.freezes);
      frozenMs = Math.max(0, cur.frozen - prev.frozen) * 1000;
      if (newFreezes > 0) down.push({ what: "freeze", level: newFreezes > 1 || cur.frozen - prev.frozen > 1 ? "poor" : "average" });
      if (outage) [outageFrozenMs, frozenMs, newFreezes] = [frozenMs, 0, 0];
      const emitted = cur.jbEmitted - prev.jbEmitted;
      if (emitted > 0) {
        audioDelayMs = (1000 * (cur.jbDelay - prev.jbDelay)) / emitted;
        down.push({ what: "delay", level: grade(audioDelayMs / 1000, THRESHOLDS.jitterBuffer) });
      }
      const frames = cur.vjbEmitted - prev.vjbEmitted;
      if (frames > 0) videoDelayMs = (1000 * (cur.vjbDelay - prev.vjbDelay)) / frames;
      const samples = cur.samples - prev.samples;
      if (samples > 0) {
        down.push({ what: "concealment", level: grade((cur.concealed - prev.concealed) / samples, THRESHOLDS.concealment) });
      }
      if (loss.up != null) up.push(finding("loss", loss.up));
      // A round trip counts only when measured again since the last reading (no stale RTT).
      if (cur.remoteRttCount > prev.remoteRttCount && cur.remoteRtt != null) {
        up.push(finding("rtt", cur.remoteRtt));
      } else if (cur.pairResponses > prev.pairResponses && cur.pairRtt != null) {
        up.push(finding("rtt", cur.pairRtt));
      }
    }
    if (cur.limited) up.push({ what: "bandwidth", level: "average" });

    const measured = worst([...down, ...up]);
    // Worse at once; better only once it held RECOVER_MS (no flapping badge); nothing
    // measured is no news.
    if (measured === "unknown") {
      this.betterSince = null;
    } else if (rank(measured) >= rank(this.shown)) {
      this.shown = measured;
      this.betterSince = null;
    } else if (this.betterSince == null) {
      this.betterSince = now;
    } else if (now - this.betterSince >= RECOVER_MS) {
      this.shown = measured;
      this.betterSince = null;
    }
    const reasons = [...down, ...up].filter((f) => f.level === "average" || f.level === "poor").map((f) => f.what);
    const ownFindings = [...down, ...up].filter((f) => OWN_LINK.has(f.what));
    const own = worst(ownFindings);
    const windowLoss = outage ? null : this.windowLoss(cur);
    const severeLoss = windowLoss != null && Math.max(windowLoss.down ?? 0, windowLoss.up ?? 0) >= SEVERE.loss;
    const severe = severeLoss || ownFindings.some((f) => f.what === "silent" || (f.what === "rtt" && f.value >= SEVERE.rtt));
    const rtt = up.find((f) => f.what === "rtt");
    if (rtt) this.rtt = rtt.value;
    const result = { level: this.shown, measured, own, severe, down: worst(down), up: worst(up),
      reasons: [...new Set(reasons)], at: now, silentMs, frozenMs, freezes: newFreezes, outageFrozenMs,
      loss: down.find((f) => f.what === "loss")?.value ?? null, rtt: this.rtt, audioDelayMs, videoDelayMs, windowLoss };
    this.history = [...this.history.slice(-19), result];
    return result;
  }

  // Whether this reading is in an outage or its recovery (`silentMs` null: no media expected).
  // The severe-loss window starts afresh after one: its gap is not loss.
  outageState(silentMs, now) {
    if (silentMs != null && silentMs >= OUTAGE_MS) {
      this.outageSince ??= now;
      return true;
    }
    if (this.outageSince != null) {
      this.outageSince = null;
      this.recoveringUntil = now + OUTAGE_RECOVERY_MS;
    }
    return this.recoveringUntil != null && now <= this.recoveringUntil;
  }

  // Each direction's loss over the last SEVERE_LOSS_WINDOW_MS ({down, up}, null until that long
  // is known; a direction null with too few packets).
  windowLoss(cur) {
    // Only snapshots since the last outage's recovery ended: its gap is not loss.
    const log = this.lossLog.filter((snap) => this.recoveringUntil == null || snap.at > this.recoveringUntil);
    this.lossLog = log;
    log.push(cur);
    while (log.length > 2 && cur.at - log[1].at >= SEVERE_LOSS_WINDOW_MS) log.shift();
    const base = log[0];
    if (cur.at - base.at < SEVERE_LOSS_WINDOW_MS) return null;
    return lossBetween(base, cur);
  }
}

// Loss ratios between two snapshots, each way (null: too few packets to say), over the
// streams present in both: up, those the server reported on in both (what we sent of a stream
// it has not reported on yet says nothing of its loss).
function lossBetween(before, after) {
  let [got, lost, sent, upLost] = [0, 0, 0, 0];
  for (const [id, now] of after.inBy) {
    const then = before.inBy.get(id);
    if (!then) continue;
    got += Math.max(0, now.got - then.got);
    lost += Math.max(0, now.lost - then.lost);
  }
  for (const [id, now] of after.upBy) {
    const then = before.upBy.get(id);
    if (then == null || !after.outBy.has(id) || !before.outBy.has(id)) continue;
    sent += Math.max(0, after.outBy.get(id) - before.outBy.get(id));
    upLost += Math.max(0, now - then);
  }
  return { down: got + lost >= MIN_PACKETS ? lost / (got + lost) : null, up: sent >= MIN_PACKETS ? upLost / sent : null };
}

// What to do about a reading: `advise` each time the shown level gets worse (to average or
// poor; not twice within `adviceGapMs`), `audioOnly` once when our own link stayed severely bad (reading.severe: silent,
// ≥ 20% loss or ≥ 1 s RTT) for `sustainedMs` (gaps up to SEVERE_GAP_MS allowed), or
// video stayed frozen `frozenMs` in all within `windowMs`, counting the freezes seen while
// our own link was not good — audio only here cannot help when the other side's link is the
// cause. Time frozen, not a count of freezes: at 10% loss with NACK a few short freezes come
// and go (bench/weak_network_bench.py: 3 of 0.8 s in all in the first 3 s), and switching on
// them took away a picture that was mostly there. Counters start afresh while audio only is
// on, so after the user brings video back a new episode is needed.
const SEVERE_GAP_MS = 2500;

export class LinkPolicy {
  constructor({ sustainedMs = 10000, frozenMs = 5000, windowMs = 30000, adviceGapMs = 15000 } = {}) {
    this.sustainedMs = sustainedMs;
    this.adviceGapMs = adviceGapMs; // a flapping link is not told every few seconds
    this.advisedAt = null;
    this.frozenLimitMs = frozenMs;
    this.windowMs = windowMs;
    this.level = "unknown";
    this.poorSince = null;
    this.severeAt = null; // the last severe reading
    this.freezeTimes = []; // [when, ms frozen] of the readings with new freezes
  }

  step(reading, now, audioOnly) {
    const worse = rank(reading.level) > rank(this.level) && rank(reading.level) >= rank("average");
    const advise = worse && (this.advisedAt == null || now - this.advisedAt >= this.adviceGapMs);
    if (advise) this.advisedAt = now;
    this.level = reading.level;
    if (audioOnly) {
      this.poorSince = null;
      this.freezeTimes = [];
      return { advise, audioOnly: false };
    }
    const own = reading.own ?? reading.level;
    const severe = reading.severe ?? own === "poor";
    // A reading or two without severe figures inside a severe spell does not end it: at 30%
    // loss the server's receiver report (our uplink loss) is itself lost now and then, and
    // that reading shows no new loss (tests/e2e/test_weak_network.py).
    if (severe) {
      this.poorSince ??= now;
      this.severeAt = now;
    } else if (this.severeAt == null || now - this.severeAt > SEVERE_GAP_MS) {
      this.poorSince = null;
    }
    if (reading.reasons.includes("freeze") && own !== "good") this.freezeTimes.push([now, reading.frozenMs ?? 0]);
    this.freezeTimes = this.freezeTimes.filter(([t]) => now - t < this.windowMs);
    const frozen = this.freezeTimes.reduce((sum, [, ms]) => sum + ms, 0);
    const sustained = this.poorSince != null && now - this.poorSince >= this.sustainedMs;
    if (sustained || frozen >= this.frozenLimitMs) {
      this.poorSince = null;
      this.freezeTimes = [];
      return { advise, audioOnly: true, why: sustained ? "sustained" : "frozen" };
    }
    return { advise, audioOnly: false };
  }
}
