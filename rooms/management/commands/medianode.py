"""Run a media node: an aiortc engine serving the rooms placed on it (needs Redis)."""

from __future__ import annotations

import socket
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from media.engine import ContractError
from media.nodes import eventloop
from media.nodes.node import MediaNode
from media.nodes.registry import NodeRegistry
from rooms.groups import channel_layer
from rooms.mediabridge import check_media_contract, new_engine


class Command(BaseCommand):
    help = "Run a media node process (rooms are placed on the least loaded live node)."

    def add_arguments(self, parser):
        parser.add_argument("--id", default=f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}")
        parser.add_argument("--max-tracks", type=int, default=settings.MEDIA_NODE_MAX_TRACKS)

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            raise CommandError("A media node needs REDIS_URL (the channel layer and the node registry).")
        try:  # also a system check (rooms/checks.py); here too for a run with --skip-checks
            check_media_contract()
        except ContractError as error:
            raise CommandError(f"media engine cannot start: {error}") from error
        # Its own process: uvloop by default (MEDIA_UVLOOP=0 for asyncio's loop).
        eventloop.run(self.serve(options["id"], options["max_tracks"]), uvloop=settings.MEDIA_UVLOOP)

    async def serve(self, node_id: str, max_tracks: int) -> None:
        self.stdout.write(f"media node {node_id} ({settings.MEDIA_ENGINE_MODE}, {eventloop.loop_name()})")
        registry = NodeRegistry(settings.REDIS_URL, prefix=settings.MEDIA_REDIS_PREFIX,
                                max_age=settings.MEDIA_NODE_MAX_AGE)
        node = MediaNode(node_id, new_engine(), channel_layer(), registry,
                         max_tracks=max_tracks, max_cpu=settings.MEDIA_NODE_MAX_CPU,
                         public_ip=settings.MEDIA_PUBLIC_IP)
        try:
            await node.run()
        finally:
            await registry.close()
