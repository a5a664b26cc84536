"""Commands sent to a media node over the channel layer, and their replies.

Request: {"type": "media.command", "op": <op>, "room": str, "pid": str, "args": {...},
          "reply_to": <channel name>}
Reply:   {"type": "media.reply", "ok": True, "result": ...}
      or {"type": "media.reply", "ok": False, "error": <MediaError subclass name>, "message": str}
Before its reply, a long command may send progress on the same `reply_to` channel
(telephone frames: see PHONE_MEDIA below):
         {"type": "media.progress", "hint": <guidance.Hint value>}  (idcheck: live guidance)
"""

from __future__ import annotations

OPS = frozenset({"join", "prepare", "admit", "keyframes", "answer", "leave", "set_audio_only", "close_room",
                 "idcheck", "phone_attach", "phone_detach"})
PROGRESS = "media.progress"

# The telephone (media/phone/): a phone's Media Stream reaches a Daphne process, its leg lives
# on the room's node. `phone_attach` (args: {"channel": the stream consumer's channel})
# starts the leg; then, with no reply:
#   Daphne → node:  {"type": PHONE_MEDIA, "pid": str, "frames": [μ-law bytes, …], "muted": bool}
#   node → Daphne:  {"type": PHONE_AUDIO, "audio": μ-law bytes}  (20 ms of the room's mix)
# A leg that hears nothing from its Daphne for PHONE_SILENT_S is dropped (that process died).
PHONE_MEDIA = "media.phone"
PHONE_AUDIO = "phone.audio"
PHONE_SILENT_S = 5.0


def node_channel(node_id: str) -> str:
    return f"medianode.{node_id}"
