// Connection quality and what is received, from RTCPeerConnection.getStats().
// The readers (summarize, receivedBy) are pure: they take the stats as an iterable of
// plain objects (a report's values()), so tests/js/stats.test.js runs them under Node.

// Round-trip time of the selected candidate pair, and packet loss since `previous`.
export function summarize(stats, previous = {}) {
  const all = [...stats];
  let rtt = null;
  let lost = 0;
  let got = 0;
  let pairId = null;
  for (const s of all) if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  for (const s of all) {
    if (s.type === "candidate-pair" && (s.id === pairId || (!pairId && s.nominated && s.state === "succeeded"))) {
      rtt = s.currentRoundTripTime ?? rtt;
    }
    if (s.type === "inbound-rtp") {
      lost += s.packetsLost ?? 0;
      got += s.packetsReceived ?? 0;
    }
  }
  const dLost = Math.max(0, lost - (previous.lost ?? 0));
  const dReceived = Math.max(0, got - (previous.received ?? 0));
  const loss = dLost + dReceived ? dLost / (dLost + dReceived) : 0;
  return { rtt, loss, level: qualityLevel(rtt, loss), lost, received: got };
}

// good / average / poor from the round-trip time (s) and the loss ratio; unknown before
// any round trip was measured.
export function qualityLevel(rtt, loss) {
  if (rtt == null) return "unknown";
  if (rtt < 0.3 && loss < 0.02) return "good";
  if (rtt < 0.6 && loss < 0.08) return "average";
  return "poor";
}

// Per participant: video frames decoded and audio energy received, through the server's
// `tracks` map (mid → {participant_id, kind}).
export function receivedBy(stats, tracks) {
  const out = {};
  for (const s of stats) {
    if (s.type !== "inbound-rtp" || !tracks[s.mid]) continue;
    const pid = tracks[s.mid].participant_id;
    const entry = (out[pid] ??= { framesDecoded: 0, audioEnergy: 0 });
    if (s.kind === "video") entry.framesDecoded += s.framesDecoded ?? 0;
    else entry.audioEnergy += s.totalAudioEnergy ?? 0;
  }
  return out;
}

export async function measure(pc, previous = {}) {
  return summarize((await pc.getStats()).values(), previous);
}

// What this browser decodes from each participant (tests and diagnostics).
export async function received(pc, tracks) {
  if (!pc) return {};
  return receivedBy((await pc.getStats()).values(), tracks);
}
