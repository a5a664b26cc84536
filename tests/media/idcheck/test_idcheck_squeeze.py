"""Templates squeezed vertically (grid.SQUEEZED): small, blurred lines of a 640 frame fit glyphs
a little shorter than the font's, and are read right with them where the font's height misreads."""

from datetime import date
from functools import lru_cache
from unittest import mock

import numpy as np

from bench.idcheck_eval import TUNING, EvalCheck, make_check
from bench.idcheck_eval.scoring import cells_right, read_check
from media.idcheck import MrzFormat
from media.idcheck.grid import MRZ_ALPHABET, SQUEEZED, STYLES, read_crop_cells, templates
from media.idcheck.locate import find_mrz, to_gray
from media.idcheck.reader import GRID_CHAR_HEIGHT

# An old French card of the evaluation set's tuning part: blur 1.49, JPEG, card at 59 % of a
# 640 frame (7 px per character). Read with the font's height its first frame misreads 0 as 6
# or 9 and C as J in 11 cells, and the check stayed unread.
SEED = 133


def _ink_rows(glyph: np.ndarray) -> np.ndarray:
    return np.flatnonzero(glyph.min(axis=1) < 128)


def test_a_squeezed_template_keeps_its_frame_and_shortens_its_glyph_about_the_middle():
    plain, squeezed = templates(240, 0), templates(240, 0, height_q=SQUEEZED)  # 60 px pitch: rows to count
    assert squeezed.shape == plain.shape  # same cell, same vertical frame: same strip and grid
    zero = MRZ_ALPHABET.index("0")
    rows, rows_squeezed = _ink_rows(plain[zero]), _ink_rows(squeezed[zero])
    tall, short = rows[-1] - rows[0] + 1, rows_squeezed[-1] - rows_squeezed[0] + 1
    assert short < tall and abs(short / tall - SQUEEZED / 100) < 0.02
    assert abs((rows[0] + rows[-1]) / 2 - (rows_squeezed[0] + rows_squeezed[-1]) / 2) <= 1
    assert not np.array_equal(plain, squeezed)


@lru_cache(maxsize=1)
def _check() -> EvalCheck:
    return make_check(MrzFormat.FR_ID_1988, SEED, TUNING)


def _right_cells(found: tuple | None) -> int:
    check = _check()
    assert found is not None and found[0] is MrzFormat.FR_ID_1988
    return cells_right(check, found[0], found[1])


def test_a_small_blurred_line_is_read_in_the_squeezed_style_and_better():
    """On the first pass the squeezed style reads 5 cells more than the font's height; the
    second (in_context) mends most of the plain style's misreads, and the squeezed read stays
    ahead and whole."""
    check = _check()
    crop = find_mrz(to_gray(check.frames[0]), GRID_CHAR_HEIGHT)
    assert crop is not None
    turned = crop.oriented(2 if check.conditions["mirrored"] else 0)
    plain_styles = tuple(s for s in STYLES if s[2] == 100)
    with mock.patch("media.idcheck.grid.in_context", lambda scores, *_: scores):
        first, first_plain = read_crop_cells(turned), read_crop_cells(turned, plain_styles)
    found, plain = read_crop_cells(turned), read_crop_cells(turned, plain_styles)
    assert first is not None and first[4][2] == SQUEEZED  # the best fit of every style tried
    assert found is not None and found[4][2] == SQUEEZED
    assert _right_cells(first) >= _right_cells(first_plain) + 5
    assert _right_cells(plain) > _right_cells(first_plain)
    assert _right_cells(found) == sum(map(len, check.mrz_lines)) > _right_cells(plain)


def test_the_whole_check_now_reads_exactly():
    scored = read_check(_check(), date(2026, 11, 23))
    assert scored.exact and not scored.wrong
