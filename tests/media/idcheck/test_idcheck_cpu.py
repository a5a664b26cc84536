"""CPU per check (bench/idcheck_bench.py measures it): the modules a check runs make no BLAS call.

numpy's OpenBLAS runs even small products (a line's 120 x 512 period waves, the cell
classifier's 40 x 336 layer) on worker threads, which then spin for a while after each
call: on this 2-core machine that about doubled the CPU of a check (tuning part, 60 checks,
same run: p50 0.69 -> 0.26 s, p95 1.22 -> 0.47 s). The check's modules use np.einsum (numpy's
own loops) instead; these tests keep it so and check that the results are the products'.
"""

import ast
import importlib
import pkgutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import media.idcheck
from media.idcheck import MrzFormat, cells, grid, locate
from media.idcheck.locate import MrzCrop, find_mrz, to_gray
from media.idcheck.reader import GRID_CHAR_HEIGHT
from media.idcheck.synthetic import make_card, render_frame

PACKAGE = Path(media.idcheck.__file__).parent
# training and the project's renderer never run in a check (train_cnn needs torch: another venv)
OFFLINE = {"train_cells", "train_cnn", "synthetic"}
BLAS_CALLS = {"dot", "matmul", "inner", "vdot", "tensordot", "linalg", "einsum_path"}


def _check_modules() -> list[str]:
    for info in pkgutil.iter_modules([str(PACKAGE)]):
        if info.name in OFFLINE:
            continue
        importlib.import_module(f"media.idcheck.{info.name}")
    return sorted(name.rsplit(".", 1)[1] for name in sys.modules
                  if name.startswith("media.idcheck.") and name.rsplit(".", 1)[1] not in OFFLINE)


def _blas_uses(source: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.MatMult):
            found.append(f"@ at line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in BLAS_CALLS:
            found.append(f".{node.attr} at line {node.lineno}")
        elif isinstance(node, ast.Call) and any(k.arg == "optimize" for k in node.keywords):
            found.append(f"einsum(optimize=...) at line {node.lineno}")  # may hand the product to BLAS
    return found


def test_the_scan_finds_a_matrix_product() -> None:
    assert set(_blas_uses("y = w @ x\nz = np.dot(a, b)\nq = np.einsum('ij,j->i', a, b, optimize=True)\n")) == {
        "@ at line 1", ".dot at line 2", "einsum(optimize=...) at line 3"}
    assert _blas_uses("q = np.einsum('ij,j->i', a, b)\n") == []


def test_no_module_run_by_a_check_calls_blas() -> None:
    modules = _check_modules()
    assert {"reader", "locate", "grid", "cells"} <= set(modules)
    uses = {m: u for m in modules if (u := _blas_uses((PACKAGE / f"{m}.py").read_text()))}
    assert uses == {}


def test_line_period_power_is_the_waves_product() -> None:
    rng = np.random.default_rng(5)
    gray = (rng.random((40, 700)) * 255).astype(np.uint8)
    gray[:, ::23] = 0  # a period: 700 / 23 = 30.4 cells
    chars, strength = locate.line_period(gray, (0, 0, 700, 40))
    assert abs(chars - 30.4) <= 0.5 and strength > locate.MIN_PERIODICITY
    profile = gray.astype(np.float32).mean(axis=0)
    profile = cv2.resize(profile[None, :], (locate._PROFILE_LEN, 1), interpolation=cv2.INTER_AREA)[0]
    profile -= profile.mean()
    power = np.abs(locate._waves(profile.size).astype(np.complex128) @ profile.astype(np.complex128))
    peak = int(np.argmax(power))
    assert chars == float(locate._COUNTS[peak])
    assert abs(strength - power[peak] / (np.median(power) + 1e-6)) <= 1e-3 * strength


def _conv_relu(a: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """3x3 convolution written out by kernel offset (cells.py's rows: kernel row, column, channel)."""
    n, h, wd, c = a.shape
    k = w.reshape(3, 3, c, -1)
    padded = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = sum(padded[:, i:i + h, j:j + wd] @ k[i, j] for i in range(3) for j in range(3))
    return np.maximum(out + b, 0.0)


def _pool(a: np.ndarray) -> np.ndarray:
    n, h, wd, c = a.shape
    return np.max([a[:, i:h - h % 2:2, j:wd - wd % 2:2] for i in range(2) for j in range(2)], axis=0)


def _random_cnn() -> dict[str, np.ndarray]:
    """CNN weights of train_cnn.py's shapes (12, 24, 32 channels, dense 64, 37 glyphs), random:
    the shipped file holds the MLP, and the CNN path must stay right for the next model."""
    rng = np.random.default_rng(8)
    flat = (cells.PATCH_H // 4) * (cells.PATCH_W // 4) * 32
    shapes = {"c1w": (9, 12), "c1b": (12,), "c2w": (9 * 12, 24), "c2b": (24,), "c3w": (9 * 24, 32), "c3b": (32,),
              "f1w": (flat, 64), "f1b": (64,), "f2w": (64, 37), "f2b": (37,)}
    return {k: (0.1 * rng.standard_normal(shape)).astype(np.float32) for k, shape in shapes.items()}


@pytest.mark.parametrize("model", ["shipped", "cnn"])
def test_classifier_probabilities_are_the_layers_products(model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if model == "cnn":
        monkeypatch.setattr(cells, "_weights", _random_cnn)
    weights = cells._weights()
    assert weights is not None
    assert ("c1w" in weights) == (model == "cnn")
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    x = np.random.default_rng(6).standard_normal((40, cells.PATCH_H * cells.PATCH_W)).astype(np.float32)
    if "c1w" in w:
        a = _pool(_conv_relu(x.astype(np.float64).reshape(40, cells.PATCH_H, cells.PATCH_W, 1), w["c1w"], w["c1b"]))
        a = _conv_relu(_pool(_conv_relu(a, w["c2w"], w["c2b"])), w["c3w"], w["c3b"])
        z = np.maximum(a.reshape(40, -1) @ w["f1w"] + w["f1b"], 0.0) @ w["f2w"] + w["f2b"]
    else:
        z = np.maximum(x.astype(np.float64) @ w["w1"] + w["b1"], 0.0) @ w["w2"] + w["b2"]
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.abs(cells.probabilities(x) - expected).max() < 1e-5


def _mirrored_td1_crop() -> MrzCrop:
    card = make_card(MrzFormat.TD1, 4)
    crop = find_mrz(to_gray(np.ascontiguousarray(render_frame(card, 4)[:, ::-1])), GRID_CHAR_HEIGHT)
    assert crop is not None and crop.line_count == 3 and round(crop.chars) == 30
    return crop


def test_orientation_ranking_and_full_read_share_the_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ranking's first-line read is reused by the full read of the same turned crop: the
    same cells, the same text, 37 template matches (one style of one line) fewer."""
    crop = _mirrored_td1_crop().oriented(2)
    calls = [0]
    match = grid._responses

    def counted(strip: np.ndarray, key: grid.TemplateKey) -> np.ndarray:
        calls[0] += len(grid.MRZ_ALPHABET)  # one template match per glyph
        return match(strip, key)

    monkeypatch.setattr(grid, "_responses", counted)
    alone = grid.read_crop_cells(crop)
    plain = calls[0]
    calls[0] = 0
    memo: grid.LineMemo = {}
    score = grid.first_line_score(crop, memo)
    ranking = calls[0]
    shared = grid.read_crop_cells(crop, grid.STYLES, memo)
    assert alone is not None and shared is not None and score > 0.5
    assert ranking == len(grid.MRZ_ALPHABET) and calls[0] == plain
    fmt, lines, mean, cells_read, style = shared
    assert (fmt, lines, mean, style) == alone[:3] + (alone[4],)
    assert cells_read.keys() == alone[3].keys()
    assert all(np.array_equal(cells_read[k], alone[3][k]) for k in cells_read)



def _match_template(strip: np.ndarray, key: grid.TemplateKey) -> np.ndarray:
    """What _responses computes, glyph by glyph with OpenCV's own normalised correlation."""
    return np.stack([cv2.matchTemplate(strip, t, cv2.TM_CCOEFF_NORMED).max(axis=0) for t in grid.templates(*key)])


@pytest.mark.parametrize("style", grid.STYLES)
def test_responses_are_opencvs_normalised_correlation(style: grid.Style) -> None:
    """The grid's correlations share one transform of the strip (2-3x less CPU than
    matchTemplate); they must be what matchTemplate gives, on a real line and on a strip with a
    blank stretch (uniform windows score 0, never NaN)."""
    crop = _mirrored_td1_crop().oriented(2)
    x, y, w, h = crop.lines[0]
    pitch = w / 30
    key = (max(8, round(pitch * 4)), style[1], grid.FACES[style[0]], style[2])
    strip = grid._strip(crop.image, crop.lines[0], grid.templates(*key).shape[1], pitch)
    blank = strip.copy()
    blank[:, : blank.shape[1] // 3] = 255.0
    noisy = (np.random.default_rng(9).random(strip.shape) * 255).astype(np.float32)
    for image in (strip, blank, noisy):
        ours = grid._responses(image, key)
        assert ours.shape == (len(grid.MRZ_ALPHABET), image.shape[1] - grid.templates(*key).shape[2] + 1)
        assert np.isfinite(ours).all()
        assert np.abs(ours - _match_template(image, key)).max() < 2e-3
    assert np.abs(grid._responses(blank, key)[:, :5]).max() < 1e-3
