// A short alert tone made on the spot (no sound file to load): someone is waiting.
export function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
    osc.addEventListener("ended", () => ctx.close());
  } catch (error) { /* autoplay refused: the visible alert remains */ }
}
