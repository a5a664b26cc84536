// Speaker view: who is shown big, from the audio the browser receives. Pure: no DOM and
// no browser globals (tests/js/speaker.test.js); indicators.js feeds it and draws.
//
// Levels come from the receiver's statistics (`inbound-rtp`, audio): the energy received
// since the last reading, as a mean level over that time (RMS, 0..1 of full scale). A
// mean over the whole interval misses no syllable between two readings, and needs no
// audio level header extension from the media server, nor an AudioContext (which
// autoplay rules may keep suspended).
//
// The rules (SpeakerPicker.update):
// - alone: me; with anyone else there: never me (my own voice is not measured);
// - speaking is a hysteresis: someone starts at SPEAKING_ON and stops once below
//   SPEAKING_OFF for HANG ms, so neither a level that hovers around one threshold nor the
//   pause between two words makes the "speaking" border blink;
// - the big tile moves to a new voice only once it has been the loudest for TAKE_OVER ms
//   and the current speaker has had the tile for at least HOLD ms (no flicker between
//   two people talking at once, a cough does not take the tile);
// - nobody has spoken yet (or the speaker left): the first other tile.

export const SPEAKING_ON = 0.02; // about -34 dBFS: quiet speech
export const SPEAKING_OFF = 0.01; // about -40 dBFS: room noise
export const TAKE_OVER = 700; // ms
export const HOLD = 2000; // ms
export const HANG = 800; // ms

// pid → mean audio level since the previous reading. `report`: an RTCStatsReport (or a
// Map id → stats, or an array of stats); `remote`: pid → {audio: MediaStreamTrack}
// (Call.remote); `previous`: what the last call returned as `totals` (track id →
// {energy, duration}). A track read for the first time has no level yet.
export function audioLevels(report, remote, previous = new Map()) {
  const pidOfTrack = new Map();
  for (const [pid, tracks] of remote ?? []) if (tracks.audio) pidOfTrack.set(tracks.audio.id, pid);
  const levels = new Map();
  const totals = new Map();
  for (const stats of Array.isArray(report) ? report : report.values()) {
    if (stats.type !== "inbound-rtp" || stats.kind !== "audio") continue;
    const pid = pidOfTrack.get(stats.trackIdentifier);
    if (pid === undefined || stats.totalAudioEnergy === undefined) continue;
    const now = { energy: stats.totalAudioEnergy, duration: stats.totalSamplesDuration };
    totals.set(stats.trackIdentifier, now);
    const before = previous.get(stats.trackIdentifier);
    const span = before ? now.duration - before.duration : 0;
    if (span > 0) levels.set(pid, Math.sqrt(Math.max(0, now.energy - before.energy) / span));
  }
  return { levels, totals };
}

export class SpeakerPicker {
  constructor(me) {
    this.me = me; // my pid
    this.speaker = null;
    this.since = 0; // when the current speaker got the big tile
    this.candidate = null; // the loudest other voice, waiting to take over
    this.candidateSince = 0;
    this.speaking = new Set(); // pids speaking now (hysteresis)
    this.levels = new Map(); // the last reading
    this.quietSince = new Map(); // pid speaking → when its level fell below SPEAKING_OFF
  }

  // One reading. `levels`: pid → level (others; mine is ignored); `shown`: the pids with a
  // tile, in their order (an array, or a Map or Set of pids); `now`: ms. Returns the
  // speaker's pid (null with no tile at all).
  update(levels, shown, now) {
    this.levels = levels;
    const pids = Array.isArray(shown) ? shown : [...shown.keys()];
    const others = pids.filter((pid) => pid !== this.me);
    for (const pid of [...this.speaking]) {
      const quiet = (levels.get(pid) ?? 0) < SPEAKING_OFF;
      if (!quiet) this.quietSince.delete(pid);
      else if (!this.quietSince.has(pid)) this.quietSince.set(pid, now);
      if (!others.includes(pid) || (quiet && now - this.quietSince.get(pid) >= HANG)) {
        this.speaking.delete(pid);
        this.quietSince.delete(pid);
      }
    }
    for (const pid of others) if ((levels.get(pid) ?? 0) >= SPEAKING_ON) this.speaking.add(pid);

    if (!others.length) return this.set(pids.includes(this.me) ? this.me : null, now);
    if (!others.includes(this.speaker)) {
      return this.set(this.loudest(levels) ?? others[0], now); // first choice, or me no longer
    }
    const loudest = this.loudest(levels);
    if (!loudest || loudest === this.speaker) {
      this.candidate = null;
      return this.speaker;
    }
    if (loudest !== this.candidate) [this.candidate, this.candidateSince] = [loudest, now];
    if (now - this.candidateSince >= TAKE_OVER && now - this.since >= HOLD) return this.set(loudest, now);
    return this.speaker;
  }

  // The loudest of those speaking now (null: nobody).
  loudest(levels) {
    let best = null;
    for (const pid of this.speaking) if (best === null || (levels.get(pid) ?? 0) > (levels.get(best) ?? 0)) best = pid;
    return best;
  }

  set(pid, now) {
    if (pid !== this.speaker) [this.speaker, this.since] = [pid, now];
    this.candidate = null;
    return pid;
  }
}
