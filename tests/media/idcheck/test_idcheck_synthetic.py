"""The synthetic card generator: determinism, options, y4m export."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

from media.idcheck import MrzFormat
from media.idcheck.synthetic import card_frames, make_card, render_frame, write_y4m


def test_frames_are_deterministic_by_seed_and_camera_sized():
    card = make_card(MrzFormat.TD3, 3)
    a = render_frame(card, 11, rotation=3, blur=0.8, lighting=0.5, noise=4)
    b = render_frame(card, 11, rotation=3, blur=0.8, lighting=0.5, noise=4)
    c = render_frame(card, 12, rotation=3, blur=0.8, lighting=0.5, noise=4)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert make_card(MrzFormat.TD1, 5) == make_card(MrzFormat.TD1, 5)


@pytest.mark.parametrize("fmt", list(MrzFormat))
def test_mrz_geometry(fmt):
    card = make_card(fmt, 1)
    assert len(card.mrz_lines) == fmt.line_count
    assert all(len(line) == fmt.line_length for line in card.mrz_lines)


def test_options_change_the_picture():
    card = make_card(MrzFormat.TD1, 2)
    plain = render_frame(card, 1)
    for option in ({"upside_down": True}, {"hidden": 0.4}, {"blur": 1.0}, {"lighting": 0.8}):
        assert not np.array_equal(plain, render_frame(card, 1, **option)), option


def test_write_y4m_for_chromium_fake_capture():
    card = make_card(MrzFormat.TD1, 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_y4m(card, seconds=0.5, fps=4, out_dir=tmp, seed=1, rotation=2)
        assert path.parent == Path(tmp)
        data = path.read_bytes()
        assert data.startswith(b"YUV4MPEG2 W640 H480")
        assert data.count(b"FRAME") == 2
        assert len(data) > 2 * 640 * 480 * 3 // 2  # yuv420p payload per frame
    assert len(list(card_frames(card, 1, 3))) == 3
