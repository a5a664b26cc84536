// The call's periodic indicators: connection quality (room.js runs it every 2 s) and the
// active speaker (every 400 ms). What they remember lives in the RoomState (stats,
// poorSaid, speaker, speakerSince).
import { _ } from "./i18n.js";
import { $, announce } from "./dom.js";
import { measure } from "./stats.js";

const SPEAKING = 0.05; // audio level that lights a tile's "speaking" border

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

  function showSpeaker() {
    const levels = new Map();
    for (const [pid, tracks] of call.remote ?? []) {
      const level = tracks.receiver?.getSynchronizationSources?.()[0]?.audioLevel ?? 0;
      stage.setSpeaking(pid, level > SPEAKING);
      levels.set(pid, level);
    }
    stage.setSpeaker(state.pickSpeaker(levels, stage.tiles, Date.now()));
  }

  return { showQuality, showSpeaker };
}
