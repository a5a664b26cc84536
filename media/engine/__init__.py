"""Media engine: a selective forwarding unit on asyncio + aiortc (no Django).

Every participant has ONE RTCPeerConnection to the server; the engine forwards each
participant's audio and video to every other participant of the same room.

API (all coroutines run on one event loop)::

    engine = MediaEngine(mode="passthrough",          # or "relay": MediaRelay, decode + encode
                         ice_servers=[{"urls": "turn:turn.example:3478",
                                       "username": "u", "credential": "p"}],
                         on_server_offer=callback,     # async (room_id, participant_id, payload)
                         gather_timeout=3.0,           # cap on STUN/TURN gathering (no trickle)
                         answer_timeout=30.0,          # a peer that never answers is dropped
                         remb="light",                 # REMB estimate of each video uplink:
                                                       # "light" | "aiortc" | "off" (True/False:
                                                       # light/off)
                         udp_buffer=4 << 20,           # ICE socket receive buffer (process-wide)
                         fast_path=True,               # short per-packet transport path (fast_path)
                         gso=True,                     # a frame's packets in one sendmsg (Linux)
                         packets=True)                 # packet-level forwarding (needs fast_path)
    reply = await engine.join(room_id, participant_id, offer_sdp)
        # -> {"type": "answer", "sdp": str, "tracks": {}}
    await engine.answer(room_id, participant_id, answer_sdp)   # answer to a server offer
    await engine.set_audio_only(room_id, participant_id, True) # no video packets to it
    async for image in engine.frames(room_id, participant_id): # numpy BGR, HxWx3
        ...                                                    # decoding only while iterated
    engine.stats()   # {"mode", "rooms", "peers", "published_tracks", "forwarded_tracks",
                     #  "paused_tracks", "loss_skips", "keyframe_requests", "dropped_frames"}
    await engine.leave(room_id, participant_id)
    await engine.close_room(room_id)
    await engine.shutdown()

Errors: every deliberate error is a `MediaError`: `SdpError` (garbage, no audio/video
m-line, no common codec, answer rejected), `UnknownPeerError`, `NegotiationError` (answer
with no offer waiting), `MediaTimeout` (gathering). A failing peer never affects the others.

Message flow the signalling layer implements (one WebSocket per participant):

1. browser -> server: its offer (sendrecv audio + video transceivers), created once at
   join after ICE gathering. Server: `reply = await engine.join(...)`, then send `reply`
   to the browser AT ONCE (before awaiting anything else): it must arrive before any server
   offer for that participant. The answer only accepts the browser's own tracks.
2. server -> browser: `on_server_offer(room_id, participant_id, {"type": "offer", "sdp",
   "tracks"})` whenever the set of tracks that participant receives changes (someone
   joined or left, including right after its own join when others are present).
   `tracks` maps each mid of the offer that carries media to
   `{"participant_id": publisher, "kind": "audio" | "video"}`; a mid absent from the map
   carries nothing (inactive). In `ontrack`, `event.transceiver.mid` gives the key.
3. browser -> server: `setRemoteDescription(offer)`, `createAnswer()`, wait for ICE
   gathering, send the answer SDP; server: `await engine.answer(room_id, participant_id, sdp)`.
   The engine keeps at most one offer in flight per participant and queues the next.
4. Screen share: the browser calls `sender.replaceTrack(screenTrack)` on its video
   transceiver; nothing to signal.

No trickle ICE: SDPs carry all candidates. Each publisher's audio and video share one
msid stream (the browser lip-syncs them), but use the `tracks` map, not stream ids, to
name participants.

Passthrough forwards packets (`packets=True`, the default, with the fast path): `packets`
(the per-packet work in plain Python over bytes: RTP parse, the per-subscriber `Rewriter`
of SSRC, payload type, sequence numbers and timestamps, continuous across a change of
publisher, a pause or a loss given up on; header extension ids mapped by URI, mid and
abs-send-time rewritten; keyframe start; NACK history; receive statistics; transport-cc
feedback; `packet_core` does the per-packet part of it in C where built, the history and
numbering included, with these as the reference) and `packet_path` (per publisher track,
the packets of its SSRCs come from the socket callback, unprotected once, rewritten,
protected and batched for each subscriber, with no frame, packetizer, sender loop or task
per packet; RTCP on aiortc's slower path with our handlers: NACK answered from history,
PLI/FIR relayed, sender reports in each subscriber's timeline, receiver reports and NACKs
to publishers, transport-cc feedback to a publisher whose browser numbers its packets
(accepted per connection by `aiortc_hooks.accept_transport_cc`) with the subscribers'
lowest REMB as a cap, the REMB estimator below only for the others; video goes out in
sequence order, packets behind a publisher's hole waiting until NACK repairs it or it is
given up, when each subscriber's stream resumes, numbered on, at the keyframe asked for: a
subscriber never sees the publisher's uplink loss as its own). Frames are
assembled only while `frames()` is read. `packets=False` keeps the frame-level path:

Frame-level passthrough (modules): `assembler` (complete frames at their marker bit; a hole not
repaired by NACK/RTX within 0.3 s is skipped), `fanout` (bounded queue per viewer,
keyframe start, PLI relay at most one per 500 ms), `aiortc_hooks` (the only place that
touches aiortc internals, with `fast_path`; pinned to aiortc 1.16.0, checked by
`check_contract()`), `fast_path` (the transports' per-packet path, shortened: SRTP
dispatched from the socket callback without aioice's queue and STUN parse attempt,
sends handed straight to a `udp_batch` batcher for the nominated socket, aiortc's NTP
clock without datetime; passthrough only, the relay baseline keeps aiortc's stock path), `srtp_direct` (the
packet path's SRTP: pylibsrtp's own libsrtp functions on aiortc's sessions, without its per-call
glue; a forward protects its header, extensions and payload in place), `udp_batch` (the
datagrams one pass of the loop sends to a peer, equal sizes grouped into one sendmsg with
UDP GSO: a forwarded frame costs one system call instead of one per packet),
`modes` (passthrough and relay strategies), `peer` (one connection, one offer in flight),
`framegrab` (decoding for `frames()`), `remb` (the default REMB estimator: aiortc's
delay-based algorithm with cheaper bookkeeping, a REMB every 500 ms, or 200 ms while
overusing, instead of one per packet), `numbering` (server offers keep the payload types
and header extension ids the browser negotiated, and number new m-lines around them, so
the browser's own offer is used as is: Chromium, Firefox and Safari number differently
from aiortc). Each viewer stays on the publisher's codec (VP8,
H264 or Opus; never transcoded); the REMB sent to a video publisher is capped at its
viewers' lowest REMB. A `medianode` process runs on uvloop by default
(`media.nodes.eventloop`, MEDIA_UVLOOP=0 to turn off): ~10% less CPU. The in-process
engine inside Daphne keeps Daphne's loop (its Twisted reactor owns it). A `medianode` process also
`gc.freeze()`s its import-time heap (the collector walked it at every full collection).
"""

from .engine import MediaEngine, Mode
from .errors import ContractError, MediaError, MediaTimeout, NegotiationError, SdpError, UnknownPeerError

__all__ = [
    "ContractError",
    "MediaEngine",
    "MediaError",
    "MediaTimeout",
    "Mode",
    "NegotiationError",
    "SdpError",
    "UnknownPeerError",
]
