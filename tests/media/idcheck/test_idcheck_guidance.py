"""Live guidance: one hint per frame from what the reader sees."""

from datetime import date

import cv2
import numpy as np

from media.idcheck import FrameReader, MrzFormat
from media.idcheck.guidance import Hint
from media.idcheck.synthetic import make_card, render_frame

TODAY = date(2026, 11, 23)


def _hint(*frames: np.ndarray) -> Hint | None:
    reader = FrameReader("Marie", "Dupont", today=TODAY, max_frames=10)
    for frame in frames:
        reader.feed(frame)
    return reader.hint


def test_no_card_asks_to_show_the_lines():
    assert _hint(np.full((480, 640, 3), 120, np.uint8)) is Hint.SHOW_MRZ


def test_a_card_held_close_enough_and_still_gets_no_correction():
    assert _hint(render_frame(make_card(MrzFormat.TD1, 1), 1)) is Hint.READING


def test_a_small_card_is_asked_closer():
    assert _hint(render_frame(make_card(MrzFormat.TD1, 1), 1, scale=0.5)) is Hint.CLOSER


def test_a_mirrored_small_card_is_asked_closer_too():
    frame = np.ascontiguousarray(render_frame(make_card(MrzFormat.TD3, 2), 2, scale=0.6)[:, ::-1])
    assert _hint(frame) is Hint.CLOSER


def test_a_reflection_on_the_lines_is_named():
    frame = render_frame(make_card(MrzFormat.TD1, 3), 3)
    reader = FrameReader(today=TODAY)
    reader.feed(frame)
    assert reader.hint is Hint.READING
    # A blown-out patch over part of the MRZ band, as a lamp reflected in the card's film.
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    ys, xs = np.nonzero(gray < 60)
    bottom = ys > np.percentile(ys, 60)  # the MRZ is the card's lowest dark print
    cx, cy = int(np.median(xs[bottom])), int(np.median(ys[bottom]))
    glared = frame.copy()
    cv2.ellipse(glared, (cx + 60, cy), (45, 14), 0, 0, 360, (255, 255, 255), -1)
    assert _hint(glared) is Hint.GLARE


def test_a_blurred_frame_after_a_sharp_one_asks_to_hold_still():
    card = make_card(MrzFormat.FR_ID_1988, 4)
    assert _hint(render_frame(card, 4), render_frame(card, 4, blur=3.0)) is Hint.HOLD_STILL


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_hints_pass_only_when_they_change_and_at_most_twice_a_second():
    from media.identity import HintGate

    clock = FakeClock()
    gate = HintGate(0.5, clock)
    assert gate.admit("closer")  # the first one at once
    assert not gate.admit("closer")  # the same again: nothing to say
    clock.now += 0.2
    assert not gate.admit("glare")  # a change too soon after the last one waits
    clock.now += 0.3
    assert gate.admit("glare")  # still true once the interval is over: not lost
    assert not gate.admit(None)  # no frame read yet: nothing
    sent = []
    gate = HintGate(0.5, clock)
    for k in range(20):  # a hint flickering every frame (10 fps) for 2 s
        clock.now += 0.1
        if gate.admit("reading" if k % 2 else "glare"):
            sent.append(clock.now)
    assert len(sent) <= 5 and all(b - a >= 0.5 - 1e-9 for a, b in zip(sent, sent[1:], strict=False))


def test_lines_running_out_of_the_frame_ask_for_the_whole_card():
    # The card slid left until its MRZ's first characters are out of view: no reading can
    # bring them back, so the hint is to move it back in (not "closer", not "reading").
    frame = render_frame(make_card(MrzFormat.TD1, 1), 1)
    shifted = cv2.warpAffine(frame, np.float32([[1, 0, -120], [0, 1, 0]]), (640, 480), borderValue=(90, 90, 90))
    assert _hint(shifted) is Hint.IN_FRAME
    assert _hint(frame) is Hint.READING
