"""An evaluation set for the ID check drawn by code independent of media/idcheck/synthetic.py.

Nothing here shares glyph, layout or noise code with the generator the reader was
developed on: cards are drawn by `render.py` (Pillow, Debian's OCR-B faces incl. the
"Sharp" cut, field labels in DejaVu/Liberation), placed in webcam scenes with text in
the background, perspective, glare, noise, JPEG + yuv420p or a VP8 round trip (PyAV,
as a call would), sometimes mirrored as front cameras send them.

Two parts, by seed: TUNING may be looked at while developing; HELD_OUT is only run
by the benchmark and never used to choose anything.
"""

from .render import HELD_OUT, TUNING, EvalCheck, make_check

__all__ = ["HELD_OUT", "TUNING", "EvalCheck", "make_check"]
