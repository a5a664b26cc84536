// Connection quality from getStats: round-trip time and packet loss since last time.
export async function measure(pc, previous = {}) {
  const report = await pc.getStats();
  let rtt = null;
  let lost = 0;
  let received = 0;
  let pairId = null;
  report.forEach((s) => { if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; });
  report.forEach((s) => {
    if (s.type === "candidate-pair" && (s.id === pairId || (!pairId && s.nominated && s.state === "succeeded"))) {
      rtt = s.currentRoundTripTime ?? rtt;
    }
    if (s.type === "inbound-rtp") {
      lost += s.packetsLost ?? 0;
      received += s.packetsReceived ?? 0;
    }
  });
  const dLost = Math.max(0, lost - (previous.lost ?? 0));
  const dReceived = Math.max(0, received - (previous.received ?? 0));
  const loss = dLost + dReceived ? dLost / (dLost + dReceived) : 0;
  let level = "unknown";
  if (rtt != null) level = rtt < 0.3 && loss < 0.02 ? "good" : rtt < 0.6 && loss < 0.08 ? "average" : "poor";
  return { rtt, loss, level, lost, received };
}

// What this browser decodes from each participant (tests and diagnostics).
export async function received(pc, tracks) {
  const out = {};
  if (!pc) return out;
  (await pc.getStats()).forEach((s) => {
    if (s.type !== "inbound-rtp" || !tracks[s.mid]) return;
    const pid = tracks[s.mid].participant_id;
    const entry = (out[pid] ??= { framesDecoded: 0, audioEnergy: 0 });
    if (s.kind === "video") entry.framesDecoded += s.framesDecoded ?? 0;
    else entry.audioEnergy += s.totalAudioEnergy ?? 0;
  });
  return out;
}
