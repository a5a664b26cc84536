"""Commands sent to a media node over the channel layer, and their replies.

Request: {"type": "media.command", "op": <op>, "room": str, "pid": str, "args": {...},
          "reply_to": <channel name>}
Reply:   {"type": "media.reply", "ok": True, "result": ...}
      or {"type": "media.reply", "ok": False, "error": <MediaError subclass name>, "message": str}
"""

from __future__ import annotations

OPS = frozenset({"join", "answer", "leave", "set_audio_only", "close_room", "idcheck"})


def node_channel(node_id: str) -> str:
    return f"medianode.{node_id}"
