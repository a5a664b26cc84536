"""Console backend for development: prints each message (the embedded `./dev run`)."""

from __future__ import annotations

import sys
import uuid
from typing import TextIO

from notifications.backends.base import Backend, OutboundMessage


class ConsoleBackend(Backend):
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: OutboundMessage) -> str:
        attachments = ", ".join(a.filename for a in message.attachments)
        lines = [
            f"--- {message.channel} to {message.to}" + (f" — {message.subject}" if message.subject else ""),
            message.body,
        ]
        if attachments:
            lines.append(f"[attachments: {attachments}]")
        self.stream.write("\n".join(lines) + "\n---\n")
        self.stream.flush()
        return f"console-{uuid.uuid4().hex[:12]}"
