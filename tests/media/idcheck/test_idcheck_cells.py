"""The grid reader's cell classifier (media/idcheck/cells.py): shipped weights, numpy only."""

import ast
from pathlib import Path

import numpy as np

from media.idcheck import MrzFormat, cells
from media.idcheck.grid import MRZ_ALPHABET, read_line_grid
from media.idcheck.locate import find_mrz, to_gray
from media.idcheck.reader import GRID_CHAR_HEIGHT
from media.idcheck.synthetic import make_card, render_frame

PACKAGE = Path(cells.__file__).parent


def test_weights_ship_small_and_load_without_a_download():
    assert cells.WEIGHTS.parent == PACKAGE and cells.WEIGHTS.stat().st_size < 400_000
    assert cells.available()


def test_classifier_reads_the_cells_the_grid_places_on_a_clean_frame():
    card = make_card(MrzFormat.TD3, 3)
    crop = find_mrz(to_gray(render_frame(card, 3)), GRID_CHAR_HEIGHT)
    assert crop is not None and crop.line_count == 2
    right = total = 0
    for box, truth in zip(crop.lines, card.mrz_lines, strict=True):
        read = read_line_grid(crop.image, box, len(truth))
        assert read is not None
        _, _, _, strip, starts, pitch = read
        probs = cells.probabilities(cells.cell_patches(strip, starts, pitch))
        assert probs.shape == (len(truth), len(MRZ_ALPHABET))
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
        read_text = "".join(MRZ_ALPHABET[i] for i in probs.argmax(axis=1))
        right += sum(a == b for a, b in zip(read_text, truth, strict=True))
        total += len(truth)
    assert right / total >= 0.97


def test_patches_are_normalised_and_survive_cells_past_the_strip_edges():
    strip = np.full((30, 100), 255, np.uint8)
    strip[8:22, 40:48] = 20
    x = cells.cell_patches(strip, np.array([-12, 40, 95]), 10.0)
    assert x.shape == (3, cells.PATCH_H * cells.PATCH_W) and np.isfinite(x).all()
    assert abs(float(x[1].mean())) < 1e-3 and x[1].std() > 0.5


def test_training_never_touches_the_evaluation_set():
    """bench/idcheck_eval must stay independent of what the reader learns from."""
    tree = ast.parse((PACKAGE / "train_cells.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not any("bench" in m or "idcheck_eval" in m for m in imported)
    assert "synthetic" in imported
    # The CNN's trainer (torch, another venv) learns only from train_cells.py's cut cells.
    tree = ast.parse((PACKAGE / "train_cnn.py").read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not any("bench" in m or "idcheck_eval" in m or "idcheck" in m for m in imported)
