"""Janus (C, Debian's 1.1.2, VideoRoom) beside our engine in bench/media_bench.py."""

from .client import JanusClient, JanusError
from .server import JanusProcess, absent_reason, run_in_namespace

__all__ = ["JanusClient", "JanusError", "JanusProcess", "absent_reason", "run_in_namespace"]
