// How deep the video jitter buffer should be when packets come late because they were lost
// and sent again (issue 25). Pure: tests/js/playout.test.js runs it under Node.
//
// Why: at 10% loss and an 80 ms link a lost packet is repaired one round trip later
// (≈ 0.2 s: NACK, retransmission), on whichever hop lost it. Chromium's video jitter buffer
// stays at ≈ 0.1 s: the frame with the hole, and every frame behind it, then misses its
// render time, a freeze each time (bench/weak_network_bench.py: 16 freezes, 5.1 s frozen
// in 18 s). Chromium only adds the round trip to its buffer for its own NACKs, and when the
// loss is on the sender's uplink the media server repairs it before forwarding: this
// receiver sees no loss at all, only late frames. So the buffer follows what is seen:
// freezes raise it (to cover their length), loss on our own hop raises it to cover a round
// trip of repair; a calm spell lowers it a step at a time. It delays the picture and the
// sound (Chromium keeps them in sync: with a 400 ms cap the citizen's audio waited 0.8-2.7 s
// in the bench, against 0.2 s without), hence the 300 ms cap, and 0 (the browser's own)
// otherwise.
//
// The conversation comes first: the audio jitter buffer's delay is watched, and while it
// exceeds its own best on this connection by more than `audioBudgetMs`, the target is not
// raised and is lowered a step at a time (the audio follows over seconds), and not raised
// beyond that level again until the audio stayed within budget a calm spell. At 10% loss +
// 80 ms a 300 ms target took the agent's audio from 80 to 340-360 ms (bench, 2026-11-29).
// Audio delays of 0.6-2.7 s seen there grow with the target at 0 too (at lip sync's pace,
// not the rule's): the guard then holds the target at 0, at the cost of freezes.
// The guard lowers only a target that holds the video: when the browser's own estimate keeps
// the video buffer well above it (late repaired frames, just after the loss began), lowering
// the target changes neither the video's delay nor the audio's.

export const PLAYOUT = {
  stepMs: 100, // raised at least this much on new freezes; lowered by this much when calm
  maxMs: 300, // more delays the sound too (kept in sync): 400 gave 0.8-2.7 s of audio delay
  calmMs: 20000, // no freeze and no loss this long: one step down
  lossFloor: 0.02, // our hop's loss from which a round trip of repair is expected
  rttFactor: 1.5, // one round trip of repair and a margin
  // Audio delay the rule may cost over the audio's best on this connection (≈ 15-30 ms clean).
  // A repair takes a round trip (≈ 0.2 s at 80 ms each way), so only a ≈ 300 ms video buffer
  // hides it, and lip sync then holds the audio at 280-390 ms (bench, 10% loss + 80 ms): with a
  // 250 ms budget the guard cut that target in most runs, the audio came down 10-20 ms/s only,
  // and the agent's video froze 2.6-6.3 s in 40 s; with 350 the target held (see
  // docs/weak-network-bench.md). Mouth-to-ear then reaches ≈ 450 ms while the link loses
  // packets (G.114 plans 400 ms); beyond it the guard still protects the conversation.
  audioBudgetMs: 350,
  audioGapMs: 2000, // one step down per gap while the audio is over budget
  // The video buffer above the target by more than this: the browser's own estimate holds the
  // video (and, through lip sync, the audio), not the target; lowering the target then
  // lowers nothing and only costs freezes (bench: after the loss began the agent's video
  // buffer sat at 500-740 ms with targets of 200 and 100 while the guard cut them to 0).
  bindMarginMs: 50,
};

const roundUp = (ms, step) => Math.ceil(ms / step) * step;

export class PlayoutTarget {
  constructor(settings = PLAYOUT) {
    this.settings = { ...PLAYOUT, ...settings };
    this.ms = 0; // 0: the browser's own buffer
    this.calmSince = null;
    this.audioBest = null; // ms, the lowest audio delay seen on this connection
    this.cap = this.settings.maxMs; // lowered to where the audio went over budget
    this.audioOverAt = null; // when the audio was last over budget
    this.loweredAt = null;
  }

  // `freezes`, `frozenMs`: new video freezes since the last reading and their time;
  // `loss`: the ratio lost on our own hop in it (null: not measured); `rtt`: our last
  // round trip to the server, s (null: unknown); `audioDelayMs`, `videoDelayMs`: the audio
  // and video jitter buffers' mean delay over the reading (null: none). Returns the new
  // target (ms) when it changed, else null.
  update({ freezes = 0, frozenMs = 0, loss = null, rtt = null, audioDelayMs = null, videoDelayMs = null }, now) {
    const { stepMs, maxMs, calmMs, lossFloor, rttFactor, audioBudgetMs, audioGapMs, bindMarginMs } = this.settings;
    if (audioDelayMs != null) this.audioBest = Math.min(this.audioBest ?? audioDelayMs, audioDelayMs);
    const lossy = loss != null && loss >= lossFloor;
    if (audioDelayMs != null && audioDelayMs > this.audioBest + audioBudgetMs) {
      this.audioOverAt = now;
      if (this.ms === 0 || (this.loweredAt != null && now - this.loweredAt < audioGapMs)) return null;
      if (videoDelayMs != null && videoDelayMs > this.ms + bindMarginMs) return null; // not ours to lower
      this.loweredAt = now;
      this.calmSince = now;
      this.cap = this.ms - stepMs;
      this.ms = this.cap;
      return this.ms;
    }
    if (this.cap < maxMs && now - this.audioOverAt >= calmMs) {
      this.cap += stepMs; // the audio stayed within budget: a step back
      this.audioOverAt = now;
    }
    let want = this.ms;
    if (freezes > 0) want = Math.max(want + stepMs, roundUp(frozenMs / freezes, stepMs));
    if (lossy && rtt != null) want = Math.max(want, roundUp(rttFactor * rtt * 1000, stepMs));
    want = Math.min(maxMs, this.cap, want);
    if (freezes > 0 || lossy) {
      this.calmSince = now;
    } else if (this.ms > 0) {
      this.calmSince ??= now;
      if (now - this.calmSince >= calmMs) {
        want = Math.max(0, this.ms - stepMs);
        this.calmSince = now;
      }
    }
    if (want === this.ms) return null;
    this.ms = want;
    return want;
  }
}

// Sets the target on every video receiver of `pc` (where the browser has jitterBufferTarget).
export function applyPlayout(pc, ms) {
  for (const receiver of pc.getReceivers()) {
    if (receiver.track?.kind === "video" && "jitterBufferTarget" in receiver) receiver.jitterBufferTarget = ms === 0 ? null : ms;
  }
}
