"""Webcam-like frames of ID cards for evaluation (see the package docstring).

Everything is deterministic by (split, format, seed). A check is 6 consecutive frames of
one card held by a slightly shaking hand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache

import av
import cv2
import numpy as np
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator
from PIL import Image, ImageDraw, ImageFont

from media.idcheck import MrzFormat, fr_id_1988

TUNING = "tuning"
HELD_OUT = "held-out"
FRAMES_PER_CHECK = 6

_MRZ_FACES = ("/usr/share/fonts/opentype/ocr-b/OCRB.otf", "/usr/share/fonts/opentype/ocr-b/OCRBS.otf")
_TEXT_FACES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
               "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
               "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf")
# (human spelling, MRZ spelling) pairs, some long enough to be cut by the MRZ.
_SURNAMES = [("Bernard", "BERNARD"), ("Ngô", "NGO"), ("O'Connor", "OCONNOR"), ("Saint-Exupéry", "SAINT<EXUPERY"),
             ("Müller", "MUELLER"), ("Çelik", "CELIK"), ("Leroy", "LEROY"), ("Gómez Ortiz", "GOMEZ<ORTIZ"),
             ("Abdelkader", "ABDELKADER"), ("Wójcik", "WOJCIK"), ("Fontaine", "FONTAINE"), ("Ba", "BA"),
             ("Vasquez-Oliveira", "VASQUEZ<OLIVEIRA"), ("Lambert", "LAMBERT"), ("Traoré", "TRAORE")]
_GIVEN = [("Amélie", "AMELIE"), ("Théo", "THEO"), ("Noémie", "NOEMIE"), ("Jürgen", "JUERGEN"), ("Awa", "AWA"),
          ("Océane", "OCEANE"), ("Baptiste", "BAPTISTE"), ("Zoë", "ZOE"), ("Ibrahim", "IBRAHIM"),
          ("Marie-Claire", "MARIE<CLAIRE"), ("Sébastien", "SEBASTIEN"), ("Lou", "LOU"), ("Quentin", "QUENTIN")]
_WORDS = ["MAIRIE", "horaires", "Bienvenue", "lundi", "Rendez-vous", "ouvert", "9h-17h", "EXIT", "Notes",
          "calendrier", "2026", "Paris", "Lyon", "page", "Livre", "café", "Service public", "merci"]
_CARD_MM = {MrzFormat.TD1: (85.6, 53.98), MrzFormat.TD3: (125.0, 88.0), MrzFormat.FR_ID_1988: (105.0, 74.0)}


@dataclass(frozen=True)
class EvalCheck:
    fmt: MrzFormat
    split: str
    seed: int
    first_name: str  # as the appointment spells it
    last_name: str
    document_number: str
    birth_date: date
    expiry_date: date
    mrz_lines: tuple[str, ...]
    width: int  # frame size
    height: int
    card_share: float  # card width / frame width
    mrz_in_frame: bool  # the MRZ's box lies wholly inside every frame (cards up to 90% wide can cut it at 16:9)
    conditions: dict[str, float | str | bool] = field(default_factory=dict)
    frames: tuple[np.ndarray, ...] = field(default=(), repr=False)

    @property
    def size_band(self) -> str:
        if self.width >= 1280:
            return "1280x720"
        return "640 card 40-50%" if self.card_share < 0.5 else "640 card >=50%"


def _rnd(split: str, fmt: MrzFormat, seed: int, what: str) -> random.Random:
    return random.Random(f"idcheck-eval/{split}/{fmt.value}/{seed}/{what}")


def _identity(fmt: MrzFormat, rnd: random.Random) -> tuple[str, str, str, date, date, tuple[str, ...]]:
    """(first, last, number, birth, expiry, mrz lines)."""
    last, last_mrz = rnd.choice(_SURNAMES)
    first, first_mrz = rnd.choice(_GIVEN)
    birth = date(rnd.randint(1945, 2006), rnd.randint(1, 12), rnd.randint(1, 28))
    sex = rnd.choice("FM")
    yymmdd = "%y%m%d"
    if fmt is MrzFormat.FR_ID_1988:
        issued = date(rnd.randint(2014, 2020), rnd.randint(1, 12), 1)
        birth = birth.replace(year=min(birth.year, 1996))
        dept = f"{rnd.choice([1, 6, 13, 31, 33, 59, 69, 75, 92, 93, 94, 974]):03d}"
        number = issued.strftime("%y%m") + dept + "".join(rnd.choice("0123456789") for _ in range(5))
        lines = fr_id_1988.build(last_mrz, first_mrz.replace("<", "<<"), number, dept + f"{rnd.randint(1, 999):03d}",
                                 birth.strftime(yymmdd), sex)
        expiry = fr_id_1988.parse(*lines).expiry(birth)
        assert expiry is not None
        return first, last, number, birth, expiry, lines
    expiry = date(rnd.randint(2027, 2036), rnd.randint(1, 12), rnd.randint(1, 28))
    if fmt is MrzFormat.TD1:
        # Every letter and digit, O/0 I/1 B/8 S/5 Z/2 included: real numbers may hold them.
        number = "".join(rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(9))
        given = first_mrz[: max(1, 30 - len(last_mrz) - 2)]
        text = str(TD1CodeGenerator("ID", "FRA", number, birth.strftime(yymmdd), sex, expiry.strftime(yymmdd),
                                    "FRA", last_mrz, given))
    else:
        letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
        number = f"{rnd.randint(0, 99):02d}{rnd.choice(letters)}{rnd.choice(letters)}{rnd.randint(0, 99999):05d}"
        text = str(TD3CodeGenerator("P", "FRA", last_mrz, first_mrz, number, "FRA", birth.strftime(yymmdd), sex,
                                    expiry.strftime(yymmdd)))
    return first, last, number, birth, expiry, tuple(text.splitlines())


@lru_cache(maxsize=32)
def _face(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


def _card(fmt: MrzFormat, lines: tuple[str, ...], first: str, last: str, rnd: random.Random
          ) -> tuple[np.ndarray, np.ndarray]:
    """Card face (RGBA) at 12 px/mm: tinted security background, photo, labelled fields, MRZ;
    and the MRZ's box corners as fractions of the card's width and height (4, 2)."""
    ppm = 12.0
    w_mm, h_mm = _CARD_MM[fmt]
    w, h = round(w_mm * ppm), round(h_mm * ppm)
    base = np.array([rnd.randint(190, 240), rnd.randint(195, 240), rnd.randint(200, 245)], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wave = 10 * np.sin(xx / rnd.uniform(9, 20) + 3 * np.sin(yy / rnd.uniform(25, 60)))
    face = np.clip(base[None, None] + wave[..., None] * np.array([1.0, 0.6, 0.3], np.float32), 0, 255)
    img = Image.fromarray(face.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    text_face = rnd.choice(_TEXT_FACES)
    title = _face(text_face, round(3.2 * ppm))
    small = _face(text_face, round(2.2 * ppm))
    draw.text((round(5 * ppm), round(2.5 * ppm)), rnd.choice(["RÉPUBLIQUE FRANÇAISE", "CARTE D'IDENTITÉ",
                                                               "PASSEPORT", "IDENTITY CARD"]),
              fill=(20, 40, 120), font=title)
    # MRZ: OCR-B at 10 characters per inch (2.54 mm), caps about 2.3 mm high, in its own
    # clear zone at the bottom (ICAO 9303): the visual zone ends above it.
    mrz_face = rnd.choices(_MRZ_FACES, weights=(3, 1))[0]
    pitch = 2.54 * ppm
    probe = _face(mrz_face, 100)
    size = round(100 * pitch / probe.getlength("0"))
    font = _face(mrz_face, size)
    n = len(lines)
    line_pitch = rnd.uniform(3.6, 4.3) * ppm
    left = (w - len(lines[0]) * pitch) / 2 + rnd.uniform(-0.6, 0.6) * ppm
    bottom_margin = rnd.uniform(1.2, 2.2) * ppm
    top = h - bottom_margin - n * line_pitch
    visual_end = top - rnd.uniform(1.5, 3.0) * ppm
    px0, py0 = round(4 * ppm), round(9 * ppm)
    pw, ph = round(w_mm * 0.27 * ppm), round(min(h_mm * 0.5 * ppm, visual_end - py0))
    photo = Image.new("RGB", (pw, ph), tuple(rnd.randint(120, 200) for _ in range(3)))
    pd = ImageDraw.Draw(photo)
    pd.ellipse([pw * 0.22, ph * 0.12, pw * 0.78, ph * 0.62], fill=(95, 70, 60))
    pd.ellipse([pw * 0.05, ph * 0.62, pw * 0.95, ph * 1.25], fill=(60, 60, 80))  # shoulders, cut by the frame
    img.paste(photo, (px0, py0))
    fx = px0 + pw + round(4 * ppm)
    row_pitch = min(7 * ppm, (visual_end - py0 - 5.5 * ppm) / 3)
    for row, (label, value) in enumerate([("Nom / Surname", last.upper()), ("Prénoms / Given names", first),
                                          ("Né(e) le", f"{rnd.randint(1, 28):02d} {rnd.randint(1, 12):02d} 19"
                                                       f"{rnd.randint(50, 99)}"), ("Lieu", rnd.choice(_WORDS))]):
        y = py0 + row * row_pitch
        draw.text((fx, y), label, fill=(80, 80, 110), font=small)
        draw.text((fx, y + round(2.6 * ppm)), value, fill=(10, 10, 10), font=small)
    ink = tuple(rnd.randint(5, 40) for _ in range(3))
    for i, line in enumerate(lines):
        draw.text((left, top + i * line_pitch), line, fill=ink, font=font)
    rgba = np.dstack([np.asarray(img), np.full((h, w), 255, np.uint8)])
    # Rounded corners.
    r = round(3 * ppm)
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (r, 0), (w - r, h), 255, -1)
    cv2.rectangle(mask, (0, r), (w, h - r), 255, -1)
    for cx, cy in ((r, r), (w - r, r), (r, h - r), (w - r, h - r)):
        cv2.circle(mask, (cx, cy), r, 255, -1)
    rgba[..., 3] = mask
    inked = [font.getbbox(line) for line in lines]  # the glyphs' own extent, not the em box
    x0, x1 = left + min(b[0] for b in inked), left + max(b[2] for b in inked)
    y0, y1 = top + inked[0][1], top + (n - 1) * line_pitch + inked[-1][3]
    box = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32) / np.array([w, h], np.float32)
    return rgba, box


def _scene(width: int, height: int, rnd: random.Random) -> np.ndarray:
    """A room or a desk: colour gradient, furniture blocks, posters and papers with text."""
    c0 = np.array([rnd.randint(30, 160) for _ in range(3)], np.float32)
    c1 = np.array([rnd.randint(30, 200) for _ in range(3)], np.float32)
    t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    img = Image.fromarray(np.broadcast_to(c0 * (1 - t) + c1 * t, (height, width, 3)).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(rnd.randint(2, 6)):
        x, y = rnd.randint(-50, width), rnd.randint(-50, height)
        draw.rectangle([x, y, x + rnd.randint(60, width // 2), y + rnd.randint(40, height // 2)],
                       fill=tuple(rnd.randint(20, 230) for _ in range(3)))
    for _ in range(rnd.randint(1, 4)):  # papers and posters with printed text
        x, y = rnd.randint(0, width - 100), rnd.randint(0, height - 60)
        pw, ph = rnd.randint(100, width // 2), rnd.randint(60, height // 2)
        draw.rectangle([x, y, x + pw, y + ph], fill=tuple(rnd.randint(200, 250) for _ in range(3)))
        font = _face(rnd.choice(_TEXT_FACES), rnd.randint(9, 22) * width // 640)
        step = max(12, int(font.size) + 4)
        for k in range(ph // step):
            words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(2, 7)))
            draw.text((x + 6, y + 4 + k * step), words, fill=(20, 20, 30), font=font)
    return np.asarray(img).astype(np.float32)


def _place(card: np.ndarray, scene: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Warp the RGBA card onto the scene by `m` (_transform: rotation and a mild perspective)."""
    sh, sw = scene.shape[:2]
    # Draw from a pre-shrunk card so the warp does not alias (INTER_AREA first, then a mild warp).
    warped = cv2.warpPerspective(card.astype(np.float32), m, (sw, sh), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:4] / 255.0
    placed: np.ndarray = scene * (1 - alpha) + warped[..., :3] * alpha
    return placed


def _transform(shape: tuple[int, ...], centre: tuple[float, float], card_w: float, angle: float,
               corner_jitter: np.ndarray) -> np.ndarray:
    """The perspective matrix from card pixels to frame pixels."""
    h, w = shape[:2]
    scale = card_w / w
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    pts = (src - [w / 2, h / 2]) * scale
    rad = np.deg2rad(angle)
    rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]], np.float32)
    dst = (pts @ rot.T + centre + corner_jitter * card_w).astype(np.float32)
    m: np.ndarray = cv2.getPerspectiveTransform(src, dst)
    return m


def _inside(shape: tuple[int, ...], m: np.ndarray, box: np.ndarray, width: int, height: int) -> bool:
    """Whether the box (fractions of the card) lands wholly inside the frame under m."""
    pts = cv2.perspectiveTransform((box * [shape[1], shape[0]]).astype(np.float32)[None], m)[0]
    return bool(np.all(pts >= 0) and np.all(pts[:, 0] < width) and np.all(pts[:, 1] < height))


def _prescale(card: np.ndarray, card_w: float) -> np.ndarray:
    h, w = card.shape[:2]
    target = max(card_w * 1.5, 64.0)
    if w <= target:
        return card
    return cv2.resize(card, (round(target), round(h * target / w)), interpolation=cv2.INTER_AREA)


def _vp8_round_trip(frames: list[np.ndarray], kbps: int, rnd: random.Random) -> list[np.ndarray]:
    """Encode then decode as a call would (libvpx VP8, rate-controlled, 15 fps, small GOP)."""
    h, w = frames[0].shape[:2]
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, 15)
    enc.framerate = Fraction(15, 1)
    enc.bit_rate = kbps * 1000
    # "good" deadline, not "realtime": realtime adapts to the CPU time left, so frames would
    # differ from run to run on a busy machine.
    enc.options = {"deadline": "good", "cpu-used": "4", "lag-in-frames": "0", "error-resilient": "1"}
    dec = av.CodecContext.create("vp8", "r")
    out: list[np.ndarray] = []
    # A few frames of warm-up, as the rate control has settled by the time a check starts.
    warm = [frames[0]] * 3
    for i, img in enumerate(warm + frames):
        vf = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
        vf.pts = i
        for packet in enc.encode(vf):
            for decoded in dec.decode(packet):
                out.append(decoded.to_ndarray(format="bgr24"))
    for packet in enc.encode(None):
        for decoded in dec.decode(packet):
            out.append(decoded.to_ndarray(format="bgr24"))
    return out[len(warm):len(warm) + len(frames)]


def _jpeg_yuv(frame: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    assert img is not None
    yuv = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR_I420)


def make_check(fmt: MrzFormat, seed: int, split: str = TUNING, frames: int = FRAMES_PER_CHECK,
               size: tuple[int, int] | None = None) -> EvalCheck:
    """One check: a card and `frames` webcam frames of it. `size` forces the frame size: the
    same card at the same share of the width, in the same conditions, from a camera sending
    more (or fewer) pixels."""
    if split not in (TUNING, HELD_OUT):
        raise ValueError(split)
    rnd = _rnd(split, fmt, seed, "check")
    first, last, number, birth, expiry, lines = _identity(fmt, _rnd(split, fmt, seed, "identity"))
    width, height = rnd.choice([(640, 480), (1280, 720)])  # drawn either way: the draws after it stay
    if size is not None:
        width, height = size
    share = rnd.uniform(0.40, 0.90)
    card_w = share * width
    card_h = card_w * _CARD_MM[fmt][1] / _CARD_MM[fmt][0]
    if card_h > 0.95 * height:  # a passport page held close does not fit a 4:3 frame: keep it in
        card_w *= 0.95 * height / card_h
        share = card_w / width
    cond: dict[str, float | str | bool] = {
        "angle": rnd.uniform(-8, 8),
        "perspective": rnd.uniform(0, 0.03),
        "blur": rnd.uniform(0.5, 1.5),
        "light": rnd.uniform(0, 0.6),
        "glare": rnd.uniform(0, 0.5),
        "noise": rnd.uniform(1.5, 6),
        "mirrored": rnd.random() < 0.25,
        "transport": rnd.choice(["jpeg", "vp8"]),
        "jpeg": rnd.randint(60, 85),
        "kbps": rnd.randint(300, 800),
    }
    face, mrz_box = _card(fmt, lines, first, last, _rnd(split, fmt, seed, "card"))
    card = _prescale(face, card_w)
    scene = _scene(width, height, _rnd(split, fmt, seed, "scene"))
    margin_x = max(0.0, (width - card_w) / 2 - 10)
    margin_y = max(0.0, (height - card_h) / 2 - 10)
    cx = width / 2 + rnd.uniform(-margin_x, margin_x) * 0.7
    cy = height / 2 + rnd.uniform(-margin_y, margin_y) * 0.7
    jitter = np.array([[rnd.uniform(-1, 1), rnd.uniform(-1, 1)] for _ in range(4)], np.float32) * float(
        cond["perspective"])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    lx, ly = rnd.uniform(0, width), rnd.uniform(0, height)
    light = 1.0 - float(cond["light"]) * np.clip(np.hypot(xx - lx, yy - ly) / width, 0, 1)
    gx, gy, gr = cx + rnd.uniform(-0.4, 0.4) * card_w, cy + rnd.uniform(-0.4, 0.4) * card_h, rnd.uniform(0.05, 0.2)
    glare = float(cond["glare"]) * 255 * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * (gr * card_w) ** 2))
    shake = _rnd(split, fmt, seed, "shake")
    noise_rng = np.random.default_rng(_rnd(split, fmt, seed, "noise").randrange(2**32))
    out: list[np.ndarray] = []
    in_frame = True
    for _ in range(frames):
        dx, dy, da = shake.uniform(-4, 4), shake.uniform(-4, 4), shake.uniform(-0.8, 0.8)
        m = _transform(card.shape, (cx + dx, cy + dy), card_w, float(cond["angle"]) + da, jitter)
        img = _place(card, scene, m)
        in_frame &= _inside(card.shape, m, mrz_box, width, height)
        img = img * light[..., None] + glare[..., None]
        img = cv2.GaussianBlur(img, (0, 0), float(cond["blur"]) * shake.uniform(0.85, 1.15))
        img = img + noise_rng.normal(0, float(cond["noise"]), img.shape).astype(np.float32)
        frame = cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
        if cond["mirrored"]:
            frame = np.ascontiguousarray(frame[:, ::-1])
        out.append(frame)
    if cond["transport"] == "vp8":
        out = _vp8_round_trip(out, int(cond["kbps"]), rnd)
    else:
        out = [_jpeg_yuv(f, int(cond["jpeg"])) for f in out]
    return EvalCheck(fmt, split, seed, first, last, number, birth, expiry, lines, width, height, share, in_frame,
                     cond, tuple(out))
