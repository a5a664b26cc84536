"""The fixed-pitch grid reader (media/idcheck/grid.py): OCR-B templates matched cell by cell."""

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageDraw, ImageFont

from media.idcheck import MrzFormat
from media.idcheck.grid import (
    ALNUM_MARGIN,
    GAP_SLACK,
    MRZ_ALPHABET,
    OCRB_FACE,
    SILENT,
    SILENT_MARGIN,
    UNSURE,
    _cell_positions,
    decide,
    read_crop,
    read_line,
    templates,
)
from media.idcheck.locate import MrzCrop

TD1 = ("IDFRAX4RTBPFW46<<<<<<<<<<<<<<<", "9007138F3002119FRA<<<<<<<<<<<6", "MARTIN<<MAELYS<GAELLE<MARIE<<<")
FR_1988 = ("IDFRABERTHIER<<<<<<<<<<<<<<<<<<<<<<<", "8806923102858CORINNE<<<<<<<6512068F6")


def _line_image(lines: tuple[str, ...], pitch: float, blur: float = 0.0, shear: float = 0.0) -> tuple[np.ndarray, list]:
    """Lines drawn in OCR-B at `pitch` px per character, as the locator's rectified crop would be."""
    probe = ImageFont.truetype(OCRB_FACE, 200)
    size = 200 * pitch * 4 / probe.getlength("0")
    font = ImageFont.truetype(OCRB_FACE, round(size))
    n = len(lines[0])
    w, line_h = round((n + 2) * pitch * 4), round(2.0 * pitch * 4)
    img = Image.new("L", (w, line_h * len(lines) + round(pitch * 4)), 255)
    draw = ImageDraw.Draw(img)
    boxes = []
    for i, line in enumerate(lines):
        at = (pitch * 4, pitch * 2 + i * line_h)
        draw.text(at, line, fill=20, font=font)
        left, top, right, bottom = (v / 4 for v in draw.textbbox(at, line, font=font))
        boxes.append((round(left), round(top), round(right - left), round(bottom - top)))
    big = np.asarray(img, np.float32)
    if shear:  # a residual perspective: the pitch grows along the line (glyphs stay put vertically)
        xs = np.arange(big.shape[1], dtype=np.float32)
        map_x = np.tile(xs * (1 - shear) + shear * xs ** 2 / big.shape[1], (big.shape[0], 1)).astype(np.float32)
        map_y = np.repeat(np.arange(big.shape[0], dtype=np.float32)[:, None], big.shape[1], axis=1)
        big = cv2.remap(big, map_x, map_y, cv2.INTER_LINEAR, borderValue=255)
    small = cv2.resize(big, (big.shape[1] // 4, big.shape[0] // 4), interpolation=cv2.INTER_AREA)
    if blur:
        small = cv2.GaussianBlur(small, (0, 0), blur)
    return np.clip(small, 0, 255).astype(np.uint8), boxes


def _crop(lines: tuple[str, ...], pitch: float, **kw) -> MrzCrop:
    image, boxes = _line_image(lines, pitch, **kw)
    return MrzCrop(image, tuple(boxes), 0.0, chars=float(len(lines[0])))


# The locator rectifies lines to glyphs 24 px tall, a pitch of about 17-21 px.
@pytest.mark.parametrize("pitch, blur", [(17.0, 0.0), (19.0, 1.5), (21.0, 3.0)])
def test_clean_lines_read_exactly_at_the_working_pitch(pitch, blur):
    fmt, lines, mean = read_crop(_crop(TD1, pitch, blur=blur))
    assert fmt is MrzFormat.TD1 and lines == TD1
    assert mean > 0.7


def test_the_grid_follows_a_pitch_that_drifts_along_the_line():
    # A straight grid slips by a cell at the far end of a 36-character line drifting 6%.
    fmt, lines, _ = read_crop(_crop(FR_1988, 16.0, blur=1.0, shear=0.06))
    assert fmt is MrzFormat.FR_ID_1988 and lines == FR_1988


def test_a_flipped_crop_matches_worse_than_the_right_way_up():
    crop = _crop(TD1, 14.0, blur=1.0)
    assert read_crop(crop)[2] > read_crop(crop.oriented(1))[2] + 0.02
    assert read_crop(crop)[2] > read_crop(crop.oriented(2))[2] + 0.02


def test_templates_keep_digits_taller_than_capitals():
    tpl = templates(60, 0)
    assert tpl.shape[0] == len(MRZ_ALPHABET)
    ink_rows = {ch: np.flatnonzero((tpl[MRZ_ALPHABET.index(ch)] < 128).any(axis=1)) for ch in "0O"}
    assert ink_rows["0"][0] <= ink_rows["O"][0] and ink_rows["0"].size >= ink_rows["O"].size


_ROWS = arrays(np.float64, (6, len(MRZ_ALPHABET)), elements=st.floats(-1, 1, allow_nan=False))


# A loaded machine (shared by several developers) makes generation look slow: speed is not tested here.
_FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(_ROWS, st.text(alphabet="DAXP", min_size=6, max_size=6))
def test_decide_obeys_each_cells_kind(scores, layout):
    text = decide(scores, layout)
    assert len(text) == len(layout)
    for ch, kind, row in zip(text, layout, scores, strict=True):
        if kind == "D":
            assert ch.isdigit() or ch == "<"
        elif kind == "A":
            assert ch.isalpha() or ch == "<"
        elif kind == "P":  # optional data that never holds the number: the best glyph, never unsure
            assert ch == MRZ_ALPHABET[int(np.argmax(row))]
        else:  # alphanumeric (document numbers): the clear best, else unsure, never a rewrite;
            # a glyph that would pass the check digits in its place must trail by SILENT_MARGIN
            best = int(np.argmax(row))
            others = [j for j in range(len(row)) if j != best]
            sure = (min(row[best] - row[j] for j in others) >= ALNUM_MARGIN
                    and all(row[best] - row[j] >= SILENT_MARGIN for j in others if SILENT[best, j]))
            assert ch == (MRZ_ALPHABET[best] if sure else UNSURE), (ch, sure)


def test_an_alphanumeric_cell_torn_between_o_and_zero_is_unsure():
    row = np.zeros((1, len(MRZ_ALPHABET)))
    row[0, MRZ_ALPHABET.index("O")], row[0, MRZ_ALPHABET.index("0")] = 0.80, 0.79
    assert decide(row, "X") == UNSURE
    assert decide(row, "D") == "0"
    assert decide(row, "A") == "O"
    assert decide(row, "P") == "O"  # a passport's personal number: read as is, checked by its digits


def test_a_department_cell_holds_a_letter_only_after_a_2():
    """Corsica (2A, 2B) is the only department with a letter: a cell torn between B and 0
    after a 0 is the digit; after a 2 it may be the letter."""
    rows = np.zeros((2, len(MRZ_ALPHABET)))
    for glyph, score in (("B", 0.90), ("0", 0.86), ("6", 0.80)):
        rows[1, MRZ_ALPHABET.index(glyph)] = score
    for first, want in (("0", "00"), ("2", "2B")):
        rows[0] = 0.0
        rows[0, MRZ_ALPHABET.index(first)] = 0.9
        assert decide(rows, "DC") == want


@_FUZZ
@given(arrays(np.float64, st.integers(40, 400), elements=st.floats(-1, 1, allow_nan=False)),
       st.integers(2, 12), st.floats(3, 20))
def test_cell_positions_are_one_pitch_apart(top, n, pitch):
    positions = _cell_positions(top, n, pitch)
    if positions is None:
        return
    assert len(positions) == n and positions[0] >= 0 and positions[-1] < top.size
    gaps = np.diff(positions)
    assert (gaps >= np.floor(pitch * (1 - GAP_SLACK)) - 1e-9).all()
    assert (gaps <= np.ceil(pitch * (1 + GAP_SLACK)) + 1e-9).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.uint8, st.tuples(st.integers(1, 80), st.integers(1, 400))),
       st.tuples(st.integers(-50, 400), st.integers(-50, 80), st.integers(-5, 500), st.integers(-5, 60)),
       st.integers(0, 50))
def test_read_line_never_raises_on_any_image_or_box(image, box, n):
    read = read_line(image, box, n)
    if read is not None:
        scores, total, _ = read
        assert scores.shape == (n, len(MRZ_ALPHABET)) and np.isfinite(total)
