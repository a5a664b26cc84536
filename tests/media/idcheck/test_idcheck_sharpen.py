"""A small MRZ's crop is unsharp-masked before the grid reads it (locate.sharpened_if_small)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from bench.idcheck_eval import TUNING, make_check
from bench.idcheck_eval.scoring import cells_right, read_check
from media.idcheck import MrzFormat, Outcome, reader
from media.idcheck.grid import read_crop_cells
from media.idcheck.locate import SHARPEN_BELOW_PITCH, find_mrz, sharpened_if_small, sharpness, to_gray
from media.idcheck.reader import GRID_CHAR_HEIGHT

TODAY = date(2026, 11, 28)


def _cells_right(crop, check) -> int:
    found = read_crop_cells(crop.oriented(2 if check.conditions["mirrored"] else 0))
    assert found is not None and found[0] is check.fmt
    return cells_right(check, found[0], found[1])


def test_a_large_mrz_is_read_as_it_is_and_an_unknown_pitch_too():
    check = make_check(MrzFormat.TD1, 99, TUNING, frames=1)
    crop = find_mrz(to_gray(check.frames[0]), GRID_CHAR_HEIGHT)
    assert crop is not None and 0 < crop.pitch_px < SHARPEN_BELOW_PITCH
    for pitch in (SHARPEN_BELOW_PITCH, 14.0, 0.0):
        large = replace(crop, pitch_px=pitch)
        assert sharpened_if_small(large) is large


def test_a_small_mrz_is_sharpened_and_only_its_image_changes():
    check = make_check(MrzFormat.TD1, 99, TUNING, frames=1)
    crop = find_mrz(to_gray(check.frames[0]), GRID_CHAR_HEIGHT)
    assert crop is not None
    out = sharpened_if_small(crop)
    assert out.image.shape == crop.image.shape and out.image.dtype == np.uint8
    assert sharpness(out.image) > 1.5 * sharpness(crop.image)
    assert replace(out, image=crop.image) == replace(crop)  # lines, pitch, share... unchanged


@pytest.mark.parametrize("fmt, seed, frame", [(MrzFormat.TD1, 99, 5), (MrzFormat.TD3, 114, 5)])
def test_a_small_blurred_mrz_reads_more_cells_right_sharpened(fmt, seed, frame):
    # Tuning checks at 40-50 % of a 640 frame (blur sigma about 1.0-1.5): the camera's blur,
    # upscaled 2-4x by the rectification, rounds 0 into 9 and 8 into 6.
    check = make_check(fmt, seed, TUNING)
    crop = find_mrz(to_gray(check.frames[frame]), GRID_CHAR_HEIGHT)
    assert crop is not None and crop.pitch_px < SHARPEN_BELOW_PITCH
    assert _cells_right(sharpened_if_small(crop), check) > _cells_right(crop, check)


def test_the_reader_reads_the_sharpened_crop(monkeypatch):
    # Tuning check TD3 23 (card at 74 % of a 640 frame, blur 1.49, VP8): its number's G was left
    # unsure in all six frames (Q, its silent partner, within 0.045); sharpened, frames read it.
    check = make_check(MrzFormat.TD3, 23, TUNING)
    assert read_check(check, TODAY).exact
    monkeypatch.setattr(reader, "sharpened_if_small", lambda crop: crop)
    scored = read_check(check, TODAY)
    assert not scored.exact and scored.result.outcome is Outcome.UNREADABLE
