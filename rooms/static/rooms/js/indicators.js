// The call's periodic indicators: connection quality (room.js runs it every 2 s) and the
// active speaker (every 400 ms). The quality's memory lives in the RoomState (stats,
// poorSaid); the speaker's in a SpeakerPicker (speaker.js: the rules, hysteresis).
import { _ } from "./i18n.js";
import { $, announce } from "./dom.js";
import { measure } from "./stats.js";
import { SpeakerPicker, audioLevels } from "./speaker.js";

export function indicators({ state, call, stage }) {
  const labels = {
    good: () => _("Connection: good"),
    average: () => _("Connection: average"),
    poor: () => _("Connection: poor"),
    unknown: () => _("Connection: measuring…"),
  };

  async function showQuality() {
    if (!call.pc || $("#gv-call").hidden) return;
    const firstPoor = state.measured(await measure(call.pc, state.stats));
    const badge = $("#gv-quality");
    badge.dataset.level = state.stats.level;
    badge.textContent = labels[state.stats.level]();
    if (firstPoor) announce(_("Your connection is weak. In Settings, choose a lower quality or audio only."));
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

  return { showQuality, showSpeaker, speakers: picker };
}
