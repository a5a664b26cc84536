// Chat messages not lost (rooms/PROTOCOL.md "Messages not lost"): each message sent gets an
// id and stays here until the server acknowledges it (`chat.ack`, or its own `chat.message`);
// after a reconnect the page sends the unacknowledged ones again (the server delivers an id
// once). Incoming messages are shown once per id (live and replayed ones overlap).
// Pure (Node imports it too: tests/js/outbox.test.js).

// 128 random bits in hex: works outside secure contexts too (crypto.randomUUID does not).
export const newId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");

export class Outbox {
  constructor({ makeId = newId } = {}) {
    this.makeId = makeId;
    this.pending = new Map(); // id -> message, in sending order
    this.seen = new Set(); // ids shown
  }

  // The message to send, with its id; kept until acknowledged.
  add(message) {
    const withId = { ...message, id: this.makeId() };
    this.pending.set(withId.id, withId);
    return withId;
  }

  acknowledged(id) {
    this.pending.delete(id);
  }

  // What to send again after a reconnect, oldest first.
  unacknowledged() {
    return [...this.pending.values()];
  }

  // True the first time an incoming message's id is seen (a message without id: always).
  firstSight(message) {
    if (!message.id) return true;
    if (this.seen.has(message.id)) return false;
    this.seen.add(message.id);
    return true;
  }
}
