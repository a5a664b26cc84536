// When to reconnect the room socket (rooms/PROTOCOL.md "Reconnection"): full jitter, so
// that a crowd cut off at once (a server restart, a storm refused with 4503 BUSY) comes
// back spread out instead of in waves. Pure (Node imports it too: tests/js/backoff.test.js).
import { backoff } from "./codes.js";

export const FLOOR = 250; // ms: never a tight loop

// Milliseconds to wait after `attempt` failures in a row: a random moment (full jitter) in
// the window 1, 2, 4, 8, 10… s, widened by the server's hint (seconds, from a `busy`
// message; 0 if none): the time it needs for the crowd it refuses. With a hint, not before
// its half: the server first serves the handshakes it let wait, and a browser back among
// them is refused again (a whole handshake for the server, a new hint for the browser;
// bench/signalling_load.py, README).
export function retryDelay(attempt, { hint = 0, random = Math.random } = {}) {
  const widen = Math.max(0, hint) * 1000;
  const window = backoff(attempt) + widen;
  const from = Math.max(FLOOR, widen / 2);
  return from + Math.floor(random() * (window - from));
}
