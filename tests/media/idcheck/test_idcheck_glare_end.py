"""A line whose end a reflection washed out: counted short, run on at the glared end."""

import numpy as np
import pytest

from bench.idcheck_eval import TUNING, make_check
from media.idcheck import MrzFormat
from media.idcheck.grid import read_crop
from media.idcheck.locate import _glare_side, find_mrz, short_line_length, to_gray
from media.idcheck.normalise import normalise
from media.idcheck.reader import GRID_CHAR_HEIGHT


@pytest.mark.parametrize("lines, chars, length", [
    (2, 33.0, 36), (2, 29.5, 36), (2, 41.0, 44), (3, 27.0, 30),
    (2, 35.5, None), (2, 36.0, None), (2, 28.5, None), (2, 37.0, None), (3, 29.5, None), (3, 25.0, None),
])
def test_which_counts_say_a_line_came_short(lines, chars, length):
    assert short_line_length(lines, chars) == length


def _band(left: float, right: float) -> np.ndarray:
    """A grey band with ink-like noise, its first and last 30 columns blown out in these shares."""
    rng = np.random.default_rng(0)
    img = rng.integers(60, 200, (60, 400)).astype(np.uint8)
    for cols, share in ((slice(0, 30), left), (slice(370, 400), right)):
        part = img[:, cols]
        part[rng.random(part.shape) < share] = 255
    return img


@pytest.mark.parametrize("left, right, side", [(0.0, 0.7, 1), (0.6, 0.05, -1), (0.0, 0.1, None), (0.5, 0.45, None)])
def test_the_line_is_run_on_only_where_a_reflection_is(left, right, side):
    """Glare at one end only: that end; none, or both alike (a card lit all over): the ink's box stays."""
    lines = ((30, 10, 340, 18), (30, 34, 340, 18))
    assert _glare_side(_band(left, right), lines, 30) == side


def test_a_glared_old_card_line_counted_short_is_read_whole():
    """Evaluation tuning check FR_ID_1988 26, frame 4: a reflection over the MRZ's right end;
    the locator counted 29.5 characters and the grid read a 36-cell line squeezed into them."""
    check = make_check(MrzFormat.FR_ID_1988, 26, TUNING)
    crop = find_mrz(to_gray(check.frames[3]), GRID_CHAR_HEIGHT)
    assert crop is not None and crop.chars == 36
    fmt, lines, _ = read_crop(crop)
    assert fmt is MrzFormat.FR_ID_1988 and normalise(fmt, lines) == check.mrz_lines
