// The call's periodic indicators: connection quality (room.js runs it every 500 ms) and
// the active speaker (every 400 ms). The quality's rules are in linkquality.js (what
// arrives, both directions; advice; automatic audio only), the speaker's in a
// SpeakerPicker (speaker.js: the rules, hysteresis).
import { _, fmt } from "./i18n.js";
import { $, announce } from "./dom.js";
import { LinkMonitor, LinkPolicy } from "./linkquality.js";
import { PlayoutTarget, applyPlayout } from "./playout.js";
import { SpeakerPicker, audioLevels } from "./speaker.js";

// `send` carries our link level to the call (quality.set); `autoAudioOnly` switches this
// page to audio only (room.js setAudioOnly) when the policy says so.
export function indicators({ state, call, stage, send, autoAudioOnly }) {
  const labels = {
    good: () => _("Connection: good"),
    average: () => _("Connection: average"),
    poor: () => _("Connection: poor"),
    unknown: () => _("Connection: measuring…"),
  };

  const advice = {
    average: () => _("Your connection is unstable. If the picture freezes, choose a lower quality or audio only."),
    poor: () => _("Your connection is weak. In Settings, choose a lower quality or audio only."),
  };
  const policy = new LinkPolicy();
  // gvDebug.playout: the target now; `enabled` false leaves the browser's own buffer (the
  // bench's before/after, bench/weak_network_bench.py --compare-playout); `tune` changes the
  // rule's settings, for this connection and the next (the bench's variants).
  const tuned = {};
  let playout = new PlayoutTarget();
  const playoutDebug = {
    enabled: true,
    get ms() { return playout.ms; },
    get audioBest() { return playout.audioBest; },
    tune(settings) { Object.assign(tuned, settings); Object.assign(playout.settings, settings); },
  };
  let monitor = null;
  let measuredPc = null;
  let sentLevel = null;
  let measuring = false;

  async function showQuality() {
    if (!call.pc || $("#gv-call").hidden || measuring) return;
    measuring = true;
    try {
      if (call.pc !== measuredPc) { // a new connection
        [measuredPc, monitor, playout] = [call.pc, new LinkMonitor(), new PlayoutTarget(tuned)];
      }
      const reading = monitor.update((await call.pc.getStats()).values());
      state.stats = reading;
      // The video buffer deep enough for repairs (playout.js); set again each time while
      // raised, so a video receiver added since gets it too.
      // The audio delay it causes (Chromium keeps lip sync) is guarded there too.
      if (playoutDebug.enabled && (playout.update(reading, Date.now()) != null || playout.ms > 0)) {
        applyPlayout(call.pc, playout.ms);
      }
      const badge = $("#gv-quality");
      badge.dataset.level = reading.level;
      badge.textContent = labels[reading.level]();
      // A connection being re-established (failover, reconnection) is not a reason to drop
      // video: the policy only judges a connected link.
      const connected = call.pc.connectionState === "connected";
      const action = connected ? policy.step(reading, Date.now(), state.audioOnly) : { advise: false, audioOnly: false };
      if (action.audioOnly) {
        reading.switched = action.why; // in linkHistory: why this page went audio only
        send({ type: "quality.set", link: reading.level, auto: true });
        sentLevel = reading.level;
        await autoAudioOnly();
        announce(_("Your connection is weak: switched to audio only. Tap “Audio only” again to bring the video back."));
      } else if (reading.level !== sentLevel) {
        send({ type: "quality.set", link: reading.level });
        sentLevel = reading.level;
        if (action.advise) announce(advice[reading.level]());
      }
    } finally {
      measuring = false;
    }
  }

  // Someone's link (participant.link): on their tile; said when one switched to audio only.
  function showLink({ pid, link, auto }) {
    if (pid === state.me.pid) return; // mine is the badge at the top
    stage.setLink(pid, link, labels[link]?.() ?? "");
    const name = state.people.get(pid)?.name;
    if (auto && name) announce(fmt(_("%(name)s's connection is weak: they switched to audio only."), { name }));
  }

  const picker = new SpeakerPicker(state.me.pid);
  let totals = new Map();
  let reading = false;

  // The big tile and the "speaking" borders, from what each participant's audio carried
  // since the last reading. Drawn even without a peer connection (alone: my own tile).
  async function showSpeaker() {
    if (reading) return; // a slow getStats: skip a beat rather than pile up
    reading = true;
    try {
      const pc = call.pc;
      const read = pc ? audioLevels(await pc.getStats(), call.remote, totals) : { levels: new Map(), totals };
      totals = read.totals;
      stage.setSpeaker(picker.update(read.levels, stage.tiles, Date.now()));
      for (const pid of stage.tiles.keys()) stage.setSpeaking(pid, picker.speaking.has(pid));
    } finally {
      reading = false;
    }
  }

  return { showQuality, showLink, showSpeaker, speakers: picker, linkHistory: () => monitor?.history ?? [],
    playout: playoutDebug };
}
