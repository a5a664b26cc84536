"""Commands sent to a media node over the channel layer, and their replies.

Request: {"type": "media.command", "op": <op>, "room": str, "pid": str, "args": {...},
          "reply_to": <channel name>}
Reply:   {"type": "media.reply", "ok": True, "result": ...}
      or {"type": "media.reply", "ok": False, "error": <MediaError subclass name>, "message": str}
Before its reply, a long command may send progress on the same `reply_to` channel:
         {"type": "media.progress", "hint": <guidance.Hint value>}  (idcheck: live guidance)
"""

from __future__ import annotations

OPS = frozenset({"join", "prepare", "admit", "answer", "leave", "set_audio_only", "close_room", "idcheck"})
PROGRESS = "media.progress"


def node_channel(node_id: str) -> str:
    return f"medianode.{node_id}"
