// WebSocket close codes of the room socket, named once: rooms/PROTOCOL.md ("Close codes")
// documents them and rooms/protocol.py (CloseCode) sends the server's ones;
// tests/rooms/test_close_codes.py checks the three agree. Pure (Node imports it too).
export const CLOSE = Object.freeze({
  NORMAL: 1000, // the browser hangs up (left, end screen)
  DROPPED: 4000, // diagnostics: gvDebug.dropConnection() closes as a network cut would
  NO_SESSION: 4401, // no valid join session for this room: back to the join page
  REFUSED: 4403, // refused or removed by a moderator
  ENDED: 4410, // room closed or meeting ended
  REPLACED: 4409, // the personal link continued on another device
  BUSY: 4503, // the server is saturated: retry after the `busy` message's hint (not final)
  UNAVAILABLE: 4504, // the server cannot serve the socket now (Redis down): come back, place kept
});

// The server's final decisions: the browser does not reconnect after these.
export const FINAL = new Set([CLOSE.NO_SESSION, CLOSE.REFUSED, CLOSE.ENDED, CLOSE.REPLACED]);

// Retry delay (ms) after `attempt` failures in a row: 1, 2, 4, 8, 10, 10… seconds.
export const backoff = (attempt) => Math.min(10, 2 ** attempt) * 1000;
