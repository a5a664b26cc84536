"""One hint at a time for the person holding the card, from what the reader sees.

Cheap measures only (the locator already computed them): no MRZ in view, MRZ cut by the
frame's border, MRZ too small,
a reflection on it, motion blur, a strong tilt. The hint is a code; the page words it
("rapprochez la carte", "évitez le reflet" ...). Nothing here decides the check.
"""

from __future__ import annotations

from enum import StrEnum

from .locate import MrzCrop


class Hint(StrEnum):
    SHOW_MRZ = "show_mrz"  # no MRZ found: show the side with the lines of characters, its bottom in view
    IN_FRAME = "in_frame"  # the MRZ runs past the frame's border: move the card back into view
    CLOSER = "closer"  # MRZ found but too small to read well
    GLARE = "glare"  # a reflection blows out part of the MRZ
    HOLD_STILL = "hold_still"  # the MRZ is blurred (moving) compared with the sharpest frame seen
    STRAIGHTEN = "straighten"  # the card is strongly tilted
    READING = "reading"  # nothing to fix: keep it so


MIN_PITCH_PX = 9.0  # below about 9 px per character, webcam reads fail far more often
GLARE_SHARE = 0.03  # 3% of the band blown out hides whole characters
TILT_DEGREES = 12.0


def hint_for(crop: MrzCrop | None, sharpness: float, best_sharpness: float) -> Hint:
    """The most useful single hint for this frame (the first problem in the order below)."""
    if crop is None:
        return Hint.SHOW_MRZ
    if crop.at_edge:
        return Hint.IN_FRAME
    if crop.pitch_px and crop.pitch_px < MIN_PITCH_PX:
        return Hint.CLOSER
    if crop.glare >= GLARE_SHARE:
        return Hint.GLARE
    if best_sharpness > 0 and sharpness < 0.5 * best_sharpness:
        return Hint.HOLD_STILL
    if abs((crop.angle + 90) % 180 - 90) > TILT_DEGREES:
        return Hint.STRAIGHTEN
    return Hint.READING
