"""Synthetic ID cards in camera-like frames, for tests and the benchmark only.

Everything is deterministic by seed. MRZ strings come from the `mrz` package's
generators (TD1, TD3) and from fr_id_1988.build for the old French card.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TypedDict, Unpack

import cv2
import numpy as np
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator
from PIL import Image, ImageDraw, ImageFont

from . import fr_id_1988
from .formats import MrzFormat
from .names import to_mrz_field

OCRB_FONT = "/usr/share/fonts/opentype/ocr-b/OCRB.otf"
FRAME_W, FRAME_H = 640, 480
_SURNAMES = ["Dupont", "Lefèvre", "N'Diaye", "Martin-Gaël", "Bélanger", "Nguyen", "Kowalski",
             "Da Silva", "Öztürk", "Mercier", "Haddad", "Lemaître", "Roux", "Benoît", "Kaya"]
_GIVEN = ["Marie", "Jean", "Élodie", "Kévin", "François", "Zoé", "Yasmine", "Loïc", "Anaïs",
          "Karim", "Hélène", "Mathéo", "Inès", "Björn", "Cécile"]
# Physical size (mm) of each document and where its MRZ starts from the left edge.
_CARD_MM = {MrzFormat.TD1: (85.6, 54.0), MrzFormat.TD3: (125.0, 88.0), MrzFormat.FR_ID_1988: (105.0, 74.0)}
_PITCH_MM = 2.54  # OCR-B at 10 characters per inch


@dataclass(frozen=True)
class SyntheticCard:
    fmt: MrzFormat
    mrz_lines: tuple[str, ...]
    surname: str  # human spelling, for name matching tests
    given_names: str
    mrz_surname: str  # as the MRZ spells it (spaces for '<')
    mrz_given_names: str
    birth_date: date
    expiry_date: date  # derived from the issue month for the old French card
    document_number: str


def _yymmdd(d: date) -> str:
    return d.strftime("%y%m%d")


def make_card(fmt: MrzFormat, seed: int) -> SyntheticCard:
    """A random but valid identity and its MRZ."""
    rnd = random.Random(f"card-{fmt.value}-{seed}")
    surname, given = rnd.choice(_SURNAMES), rnd.choice(_GIVEN)
    if rnd.random() < 0.3:
        given += " " + rnd.choice(_GIVEN)
    birth = date(rnd.randint(1940, 2005), rnd.randint(1, 12), rnd.randint(1, 28))
    sex = rnd.choice("MF")
    sur_f, giv_f = to_mrz_field(surname), to_mrz_field(given)
    if fmt is MrzFormat.FR_ID_1988:
        # Issued 2014-2020 to an adult: valid 15 years, so still valid today.
        birth = birth.replace(year=min(birth.year, 1995))
        issued = date(rnd.randint(2014, 2020), rnd.randint(1, 12), 1)
        dept = f"{rnd.randint(1, 95):03d}"
        number = issued.strftime("%y%m") + dept + f"{rnd.randint(0, 99999):05d}"
        giv_f = giv_f.replace("<", "<<")
        lines = fr_id_1988.build(sur_f, giv_f, number, dept + f"{rnd.randint(0, 999):03d}", _yymmdd(birth), sex)
        parsed = fr_id_1988.parse(*lines)
        expiry = parsed.expiry(birth)
        assert expiry is not None  # the number just built starts with an issue month
        return SyntheticCard(fmt, lines, surname, given, parsed.surname, parsed.given_names, birth, expiry, number)
    expiry = date(rnd.randint(2027, 2035), rnd.randint(1, 12), rnd.randint(1, 28))
    alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    if fmt is MrzFormat.TD1:
        number = "".join(rnd.choice(alnum) for _ in range(9))
        text = str(TD1CodeGenerator("ID", "FRA", number, _yymmdd(birth), sex, _yymmdd(expiry), "FRA",
                                    sur_f, giv_f))
    else:
        letters = "ABCDEFGHKLMN"
        number = f"{rnd.randint(10, 99)}{rnd.choice(letters)}{rnd.choice(letters)}{rnd.randint(0, 99999):05d}"
        text = str(TD3CodeGenerator("P", "FRA", sur_f, giv_f, number, "FRA", _yymmdd(birth), sex,
                                    _yymmdd(expiry)))
    return SyntheticCard(fmt, tuple(text.splitlines()), surname, given, sur_f.replace("<", " "),
                         giv_f.replace("<", " "), birth, expiry, number)


def flip_digit(card: SyntheticCard, seed: int) -> SyntheticCard:
    """Forge one digit of the MRZ without fixing any check digit."""
    rnd = random.Random(f"flip-{seed}")
    spots = [(i, j) for i, line in enumerate(card.mrz_lines) for j, c in enumerate(line) if c.isdigit()]
    i, j = rnd.choice(spots)
    old = card.mrz_lines[i][j]
    new = rnd.choice([d for d in "0123456789" if d != old])
    lines = list(card.mrz_lines)
    lines[i] = lines[i][:j] + new + lines[i][j + 1:]
    return replace(card, mrz_lines=tuple(lines))


@lru_cache(maxsize=8)
def _font(size: int, ocrb: bool = True) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if ocrb:
        return ImageFont.truetype(OCRB_FONT, size)
    return ImageFont.load_default(size=size)


def _card_image(card: SyntheticCard, px_per_mm: float, rnd: random.Random) -> np.ndarray:
    """Card face (RGB) with decoy text above the MRZ, drawn at 2x then downscaled."""
    ss = 2  # supersampling gives anti-aliased glyph edges like a real camera
    w_mm, h_mm = _CARD_MM[card.fmt]
    k = px_per_mm * ss
    w, h = int(w_mm * k), int(h_mm * k)
    tint = tuple(rnd.randint(200, 245) for _ in range(3))
    img = Image.new("RGB", (w, h), tint)
    draw = ImageDraw.Draw(img)
    for y in range(0, h, max(2, int(3 * k))):  # guilloche-like background lines
        draw.line([(0, y), (w, y + rnd.randint(-int(4 * k), int(4 * k)))], fill=tuple(c - 25 for c in tint), width=1)
    draw.rectangle([int(4 * k), int(12 * k), int(30 * k), int(42 * k)], fill=(150, 140, 130))  # photo
    small = _font(int(2.6 * k), ocrb=False)
    header = "REPUBLIQUE FRANCAISE  CARTE NATIONALE D'IDENTITE"
    draw.text((int(4 * k), int(3 * k)), header, fill=(40, 50, 110), font=small)
    for row, label in enumerate(["Nom", "Prenoms", "Date de naiss.", "Lieu"]):
        draw.text((int(34 * k), int((12 + 6 * row) * k)), f"{label}: {card.mrz_surname[:12]}",
                  fill=(30, 30, 30), font=small)
    n = len(card.mrz_lines)
    size = int(_PITCH_MM * k / 0.723)  # OCR-B advance is 0.723 em
    font = _font(size)
    line_pitch = 4.2 * k
    x0 = (w - len(card.mrz_lines[0]) * _PITCH_MM * k) / 2
    top = h - (n * line_pitch) - 2.5 * k
    draw.rectangle([0, int(top - 1.5 * k), w, h], fill=tuple(min(255, c + 10) for c in tint))
    for i, line in enumerate(card.mrz_lines):
        draw.text((x0, top + i * line_pitch), line, fill=(15, 15, 20), font=font)
    return cv2.resize(np.asarray(img), (w // ss, h // ss), interpolation=cv2.INTER_AREA)


def render_frame(card: SyntheticCard, seed: int = 0, *, rotation: float = 0.0, blur: float = 0.0,
                 lighting: float = 0.0, noise: float = 0.0, scale: float = 1.0, upside_down: bool = False,
                 hidden: float = 0.0, mirrored: bool = False) -> np.ndarray:
    """One 640x480 BGR camera frame showing the card.

    rotation in degrees, blur as Gaussian sigma (px, for a TD1 card; scaled to the
    document's glyph size for the others), lighting in 0..1 (strength of a
    light gradient), noise as sensor noise sigma, hidden as the fraction of the MRZ
    width covered by a thumb, mirrored as front cameras send the picture.
    """
    rnd = random.Random(f"frame-{seed}")
    cv2.setRNGSeed(rnd.randrange(2**31))  # cv2.randn is much faster than numpy's normal()
    px_per_mm = {MrzFormat.TD1: 6.0, MrzFormat.TD3: 4.5, MrzFormat.FR_ID_1988: 5.2}[card.fmt] * scale
    face = _card_image(card, px_per_mm, rnd)
    if hidden > 0:
        ch, cw = face.shape[:2]
        x = int(cw * (1 - hidden))
        pts = np.array([[x, ch], [x + cw // 20, int(ch * 0.55)], [cw, int(ch * 0.5)], [cw, ch]], np.int32)
        cv2.fillPoly(face, [pts], (196, 150, 120))
    frame: np.ndarray = np.empty((FRAME_H, FRAME_W, 3), np.float32)
    cv2.randn(frame, np.array([rnd.randint(40, 120) for _ in range(3)], np.float64), np.full(3, 6.0))  # a room
    ch, cw = face.shape[:2]
    cx = FRAME_W / 2 + rnd.uniform(-20, 20)
    cy = FRAME_H / 2 + rnd.uniform(-20, 20)
    m = cv2.getRotationMatrix2D((cw / 2, ch / 2), rotation + (180 if upside_down else 0), 1.0)
    m[:, 2] += (cx - cw / 2, cy - ch / 2)
    cv2.warpAffine(face.astype(np.float32), m, (FRAME_W, FRAME_H), dst=frame, flags=cv2.INTER_LINEAR,
                   borderMode=cv2.BORDER_TRANSPARENT)
    if lighting > 0:
        angle = rnd.uniform(0, 2 * np.pi)
        xx, yy = _grid()
        ramp = (xx * np.float32(np.cos(angle)) + yy * np.float32(np.sin(angle))) / FRAME_W
        gain = (1.0 + lighting * 0.9 * ramp) * (1 - 0.15 * lighting)
        frame *= gain[..., None]
    if blur > 0:
        # Blur is given relative to a TD1 card's glyphs, so it degrades every format alike.
        frame = cv2.GaussianBlur(frame, (0, 0), blur * px_per_mm / (6.0 * scale))
    if noise > 0:
        grain = np.empty_like(frame)
        cv2.randn(grain, np.zeros(3), np.full(3, float(noise)))
        frame += grain
    rgb = np.clip(frame, 0, 255).astype(np.uint8)
    bgr: np.ndarray = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    return cv2.flip(bgr, 1) if mirrored else bgr


@lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    return xx - FRAME_W / 2, yy - FRAME_H / 2


def render_text_frame(seed: int, lines: int = 3, chars: int = 30) -> np.ndarray:
    """A card whose bottom lines are random OCR-B text, not an MRZ (a decoy for the locator)."""
    rnd = random.Random(f"text-{seed}")
    words = ["PREFECTURE", "DE", "POLICE", "ADRESSE", "RUE", "DES", "LILAS", "PARIS", "75011", "SIGNATURE"]
    text = []
    for _ in range(lines):
        line = ""
        while len(line) < chars:
            line += rnd.choice(words) + " "
        text.append(line[:chars].rstrip().ljust(chars, "."))
    card = SyntheticCard(MrzFormat.TD1, tuple(text), "X", "Y", "X", "Y", date(2000, 1, 1), date(2030, 1, 1), "")
    return render_frame(card, seed)


def random_conditions(seed: int) -> dict[str, float]:
    """Varied but readable capture conditions (what a cooperative citizen produces)."""
    rnd = random.Random(f"cond-{seed}")
    return {
        "rotation": rnd.uniform(-6, 6),
        "blur": rnd.choice([0.0, 0.5, 0.8, 1.1]),  # beyond ~1.2 a TD1 MRZ is no longer legible
        "lighting": rnd.uniform(0, 0.8),
        "noise": rnd.uniform(1, 6),
        "scale": rnd.uniform(0.92, 1.08),
    }


class Conditions(TypedDict, total=False):
    """render_frame's camera conditions."""

    rotation: float
    blur: float
    lighting: float
    noise: float
    scale: float
    upside_down: bool
    hidden: float
    mirrored: bool


def card_frames(card: SyntheticCard, seed: int, count: int, **conditions: Unpack[Conditions]) -> Iterator[np.ndarray]:
    """Consecutive video frames (rendered lazily): same card and conditions, slight hand
    shake and fresh sensor noise in each."""
    rnd = random.Random(f"shake-{seed}")
    for k in range(count):
        shaken: Conditions = {**conditions, "rotation": conditions.get("rotation", 0.0) + rnd.uniform(-0.7, 0.7)}
        yield render_frame(card, seed * 1000 + k, **shaken)


def write_y4m(card: SyntheticCard, seconds: float = 3.0, fps: int = 10, out_dir: str | None = None,
              seed: int = 0, **conditions: Unpack[Conditions]) -> Path:
    """Write a y4m video of the card (for Chromium's --use-file-for-fake-video-capture).

    Written to a temporary directory (never in the repository); returns the file path.
    """
    return write_y4m_scenes(card, [(seconds, conditions)], fps, out_dir, seed)


def write_y4m_scenes(card: SyntheticCard, scenes: Sequence[tuple[float, Conditions]], fps: int = 10,
                     out_dir: str | None = None, seed: int = 0) -> Path:
    """A y4m video of the card in successive scenes of (seconds, conditions): a citizen who
    holds it far away, then closer, for instance. Chromium plays the file from its start when
    the camera is opened, and loops it."""
    target = Path(out_dir or tempfile.mkdtemp(prefix="idcheck-y4m-")) / f"card-{card.fmt.value}-{seed}.y4m"
    cmd = ["ffmpeg", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{FRAME_W}x{FRAME_H}", "-r", str(fps), "-i", "-",
           "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(target)]
    raw = b"".join(f.tobytes() for n, (seconds, conditions) in enumerate(scenes)
                   for f in card_frames(card, seed + 7919 * n, max(1, int(seconds * fps)), **conditions))
    subprocess.run(cmd, input=raw, check=True, capture_output=True)  # noqa: S603 - fixed argv, no shell
    return target
