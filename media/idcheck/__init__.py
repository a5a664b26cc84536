"""Server-side ID document check from video frames: find the MRZ, OCR it, validate it.

Typical use by the media engine, with decoded frames (numpy BGR or RGB arrays)::

    reader = FrameReader(first_name, last_name, max_frames=40, timeout_s=20)
    for frame in frames:            # a few frames per second is enough
        result = reader.feed(frame)
        if result is not None:
            break
    result = reader.finish()        # if the stream ended first
    audit.info(result.audit_line())

Nothing is written to disk; only the OCR'd text of the current check is kept.
"""

from .formats import MrzFormat
from .names import NameMatch
from .reader import FrameReader, check_frames
from .result import IdCheckResult, Outcome, names_match

__all__ = ["FrameReader", "IdCheckResult", "MrzFormat", "NameMatch", "Outcome", "check_frames", "names_match"]
