// When to reconnect the room socket (rooms/PROTOCOL.md "Reconnection"): full jitter, so
// that a crowd cut off at once (a server restart, a storm refused with 4503 BUSY) comes
// back spread out instead of in waves. Pure (Node imports it too: tests/js/backoff.test.js).
import { backoff } from "./codes.js";

export const FLOOR = 250; // ms: never a tight loop

// Milliseconds to wait after `attempt` failures in a row: a random moment (full jitter) in
// the window 1, 2, 4, 8, 10… s, widened by the server's hint (seconds, from a `busy`
// message; 0 if none): the time it needs for the crowd it refuses, so that crowd comes
// back spread over it rather than all at once when it ends.
export function retryDelay(attempt, { hint = 0, random = Math.random } = {}) {
  const window = backoff(attempt) + Math.max(0, hint) * 1000;
  return FLOOR + Math.floor(random() * (window - FLOOR));
}
