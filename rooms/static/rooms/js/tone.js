// A short alert tone made on the spot (no sound file to load): someone is waiting. Its
// volume (0 = off) is the agent's choice in the room's settings, kept on this device and
// used by the day view too.
const KEY = "gv.tone";
export const TONE_LEVELS = ["1", "0.5", "0.15", "0"];
const DEFAULT = "0.5";

export function toneLevel() {
  const saved = globalThis.localStorage?.getItem(KEY);
  return TONE_LEVELS.includes(saved) ? saved : DEFAULT;
}

export function setToneLevel(value) {
  if (!TONE_LEVELS.includes(value)) throw new RangeError(`tone level ${value}`);
  localStorage.setItem(KEY, value);
}

export function beep(level = toneLevel()) {
  const volume = Number(level);
  if (!(volume > 0)) return false;
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = volume;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
    osc.addEventListener("ended", () => ctx.close());
    return true;
  } catch (error) { /* autoplay refused: the visible alert remains */ }
  return false;
}
