// Microphone level from an AnalyserNode (RMS of the waveform), about 10 times a second.
export function startMeter(track, onLevel) {
  const Ctx = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!Ctx || !track) return () => {};
  const ctx = new Ctx();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    // RMS of speech is ~0.01-0.3: a square root spreads it over the meter.
    onLevel(Math.min(1, Math.sqrt(Math.sqrt(sum / samples.length)) * 1.5));
  }, 100);
  ctx.resume?.();
  return () => {
    clearInterval(timer);
    source.disconnect();
    ctx.close();
  };
}
