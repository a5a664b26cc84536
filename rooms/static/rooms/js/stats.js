// What is received and the round trip, from RTCPeerConnection.getStats(). The call's
// connection indicator is linkquality.js; this is the device test's round trip and the
// tests' view of what each participant's media brings.
// The readers (roundTrip, receivedBy) are pure: they take the stats as an iterable of
// plain objects (a report's values()), so tests/js/stats.test.js runs them under Node.

// Round-trip time (s) of the selected candidate pair, null before one was measured.
export function roundTrip(stats) {
  const all = [...stats];
  let rtt = null;
  let pairId = null;
  for (const s of all) if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  for (const s of all) {
    if (s.type === "candidate-pair" && (s.id === pairId || (!pairId && s.nominated && s.state === "succeeded"))) {
      rtt = s.currentRoundTripTime ?? rtt;
    }
  }
  return rtt;
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

export async function measureRoundTrip(pc) {
  return roundTrip((await pc.getStats()).values());
}

// What this browser decodes from each participant (tests and diagnostics).
export async function received(pc, tracks) {
  if (!pc) return {};
  return receivedBy((await pc.getStats()).values(), tracks);
}
