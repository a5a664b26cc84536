// The room page's state transitions (rooms/static/rooms/js/state.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CHANGE, RoomState, STATUS } from "../../rooms/static/rooms/js/state.js";

const ME = "11111111-1111-4111-8111-111111111111";
const AGENT = "22222222-2222-4222-8222-222222222222";
const OTHER = "33333333-3333-4333-8333-333333333333";

const guest = () => new RoomState({ pid: ME, name: "Jeanne", role: "guest" });
const person = (pid, status, extra = {}) => ({ pid, name: pid.slice(0, 4), role: "guest", status, ...extra });

function inCall() {
  const state = guest();
  state.snapshot({ you: { status: STATUS.ADMITTED }, participants: [person(AGENT, STATUS.ADMITTED)] });
  state.connectionOpened();
  state.enteredCall();
  return state;
}

test("a new page waits, knows who it is and whether it moderates", () => {
  const state = guest();
  assert.equal(state.me.status, STATUS.WAITING);
  assert.equal(state.me.pid, ME);
  assert.equal(state.moderator, false);
  assert.equal(new RoomState({ pid: AGENT, name: "Agent", role: "moderator" }).moderator, true);
});

test("snapshot replaces who is there, in the same maps", () => {
  const state = guest();
  const { people, lobby } = state;
  state.waiting(person(OTHER, STATUS.WAITING));
  state.snapshot({ you: { status: STATUS.ADMITTED, name: "Jeanne D." }, participants: [person(AGENT, STATUS.ADMITTED)], lobby: null });
  assert.equal(state.me.status, STATUS.ADMITTED);
  assert.equal(state.me.name, "Jeanne D.");
  assert.deepEqual([...state.people.keys()], [AGENT]);
  assert.equal(state.lobby.size, 0);
  assert.equal(state.people, people);
  assert.equal(state.lobby, lobby);
});

test("participantChanged says where someone went", () => {
  const state = inCall();
  assert.equal(state.participantChanged(person(OTHER, STATUS.WAITING)), CHANGE.ELSEWHERE);
  assert.ok(state.lobby.has(OTHER));
  assert.equal(state.participantChanged(person(OTHER, STATUS.ADMITTED)), CHANGE.IN_CALL);
  assert.ok(state.people.has(OTHER));
  assert.ok(!state.lobby.has(OTHER));
  assert.equal(state.participantChanged(person(OTHER, STATUS.REMOVED)), CHANGE.OUT_OF_CALL);
  assert.ok(!state.people.has(OTHER));
  assert.equal(state.participantChanged(person(OTHER, STATUS.REFUSED)), CHANGE.ELSEWHERE);
});

test("my own news: admitted stays in the call, anything else goes by status", () => {
  const state = inCall();
  assert.equal(state.participantChanged(person(ME, STATUS.ADMITTED, { hand: true })), CHANGE.IN_CALL);
  assert.equal(state.me.hand, true);
  assert.equal(state.participantChanged(person(ME, STATUS.REMOVED)), CHANGE.MY_STATUS);
  assert.equal(state.me.status, STATUS.REMOVED);
  assert.equal(state.me.hand, true, "my news merges into what I knew");
});

test("participantLeft says whether they were in the call", () => {
  const state = inCall();
  state.waiting(person(OTHER, STATUS.WAITING));
  assert.equal(state.participantLeft(OTHER), false);
  assert.ok(!state.lobby.has(OTHER));
  assert.equal(state.participantLeft(AGENT), true);
  assert.ok(!state.people.has(AGENT));
});

test("an admitted page offers once per connection, and again when told to forget", () => {
  const state = inCall();
  assert.equal(state.offerDue(), true);
  assert.equal(state.offerDue(), false);
  assert.equal(state.connectionOpened(), 2);
  assert.equal(state.offerDue(), true);
  assert.equal(state.offerDue(), false);
  state.forgetOffer();
  assert.equal(state.offerDue(), true);
});

test("sent back to the waiting room: nobody in the call, and the next admission offers again", () => {
  const state = inCall();
  assert.equal(state.offerDue(), true);
  state.returnedToLobby();
  assert.equal(state.me.status, STATUS.WAITING);
  assert.equal(state.people.size, 0);
  state.setStatus(STATUS.ADMITTED);
  assert.equal(state.offerDue(), true);
});

test("media failover: one retry at a time, with backoff, advice from the third try", () => {
  const state = inCall();
  assert.deepEqual(state.mediaFailed(), { delay: 1000, advise: false });
  assert.equal(state.mediaFailed(), null, "a retry is already scheduled");
  assert.equal(state.mediaRetryDue(true), true);
  assert.equal(state.offerDue(), true, "the retry makes a new offer");
  assert.deepEqual(state.mediaFailed(), { delay: 2000, advise: false });
  state.mediaRetryDue(true);
  assert.deepEqual(state.mediaFailed(), { delay: 4000, advise: true });
  assert.equal(state.mediaRetryDue(false), false, "no retry without the socket");
  state.mediaConnected();
  assert.deepEqual(state.mediaFailed(), { delay: 1000, advise: false });
});

test("no media retry in the waiting room or after the end", () => {
  assert.equal(guest().mediaFailed(), null);
  const state = inCall();
  assert.equal(state.finish(), true);
  assert.equal(state.finish(), false, "the end screen shows once");
  assert.equal(state.mediaFailed(), null);
});

test("a retry that comes due after I left the call does nothing", () => {
  const state = inCall();
  state.mediaFailed();
  state.returnedToLobby();
  assert.equal(state.mediaRetryDue(true), false);
});

test("mediaState reads my tracks and updates me where the call lists me", () => {
  const state = inCall();
  state.local.audio = { enabled: false };
  state.local.camera = {};
  assert.deepEqual(state.mediaState(), { audio: false, video: true, screen: false });
  assert.equal(state.people.get(ME), state.me);
  assert.equal(state.me.audio, false);
  state.local.screen = { id: "screen" };
  assert.equal(state.outgoingVideo, state.local.screen);
  state.local.screen = null;
  assert.equal(state.outgoingVideo, state.local.camera);
});

test("audio only remembers the camera and brings it back", () => {
  const state = inCall();
  state.local.camera = {};
  assert.equal(state.audioOnlyCamera(true), "stop");
  state.local.camera = null;
  state.setQuality("audio");
  assert.equal(state.audioOnly, true);
  assert.equal(state.audioOnlyCamera(false), "start");
  assert.equal(state.audioOnlyCamera(true), null, "no camera to stop");
  assert.equal(state.audioOnlyCamera(false), null, "and none to bring back");
});

test("view, camera facing, unread messages, hand", () => {
  const state = inCall();
  assert.equal(state.toggleView(), "speaker");
  assert.equal(state.toggleView(), "tiles");
  assert.equal(state.flipFacing(), "environment");
  assert.equal(state.flipFacing(), "user");
  assert.equal(state.unreadMessage(), 1);
  assert.equal(state.unreadMessage(), 2);
  assert.equal(state.chatOpened(), 0);
});

// The server answers each hand.set with my participant.updated (rooms/consumers.py).
const answer = (state, hand) => {
  state.participantChanged(person(ME, STATUS.ADMITTED, { hand }));
  return state.handAnswered();
};

test("a double tap on the hand: one hand.set in flight, the last press wins", () => {
  const state = inCall();
  assert.equal(state.pressHand(), true, "raise: sent at once");
  assert.equal(state.pressHand(), null, "lower before the answer: held back");
  assert.equal(state.handShown, false, "the button shows the last press");
  assert.equal(answer(state, true), false, "the raise is answered: the lower goes now");
  assert.equal(state.handShown, false);
  assert.equal(answer(state, false), null, "the room agrees: nothing more to send");
  assert.equal(state.handShown, false);
  assert.equal(state.me.hand, false);
});

test("a press and its undo before the answer send nothing more", () => {
  const state = inCall();
  assert.equal(state.pressHand(), true);
  assert.equal(state.pressHand(), null);
  assert.equal(state.pressHand(), null, "raise again: the one in flight already says so");
  assert.equal(answer(state, true), null);
  assert.equal(state.handShown, true);
});

test("a refused press or a moderator's lowering: the button shows the room's hand", () => {
  const state = inCall();
  assert.equal(state.pressHand(), true);
  state.handSettled(); // rate_limited, ref hand.set
  assert.equal(state.handShown, false);
  assert.equal(state.pressHand(), true, "a later press is sent, nothing is stuck in flight");
  assert.equal(answer(state, true), null);
  state.participantChanged(person(ME, STATUS.ADMITTED, { hand: false }));
  state.handSettled(); // hand.lowered
  assert.equal(state.handShown, false);
});

test("a press the lost connection never answered is sent again on the next one", () => {
  const state = inCall();
  assert.equal(state.pressHand(), true);
  state.snapshot({ you: { status: STATUS.ADMITTED, hand: false }, participants: [] });
  assert.equal(state.handAnswered(), true);
  assert.equal(answer(state, true), null);
  assert.equal(state.handShown, true);
});

test("another change of mine answered first (media state): the press is sent again, harmlessly", () => {
  const state = inCall();
  assert.equal(state.pressHand(), true);
  assert.equal(answer(state, false), true, "the room still says lowered");
  assert.equal(answer(state, true), null);
  assert.equal(state.handShown, true);
});

test("the waiting list is redrawn only when it changed", () => {
  const state = guest();
  assert.equal(state.lobbyChanged(), true);
  assert.equal(state.lobbyChanged(), false);
  state.waiting(person(OTHER, STATUS.WAITING));
  assert.equal(state.lobbyChanged(), true);
  state.waiting({ ...person(OTHER, STATUS.WAITING), name: "Renamed" });
  assert.equal(state.lobbyChanged(), true);
  assert.equal(state.lobbyChanged(), false);
  // Their connection is lost ("connexion perdue" in the list), then back.
  state.participantChanged({ ...person(OTHER, STATUS.WAITING), name: "Renamed", online: false });
  assert.equal(state.lobbyChanged(), true);
  state.waiting({ ...person(OTHER, STATUS.WAITING), name: "Renamed", online: true });
  assert.equal(state.lobbyChanged(), true);
  state.leftLobby(OTHER);
  assert.equal(state.lobbyChanged(), true);
});
