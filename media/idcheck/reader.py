"""FrameReader: feed it video frames one by one until it settles on an ID check result.

Frames are OCR'd only when sharp enough; each readable frame adds one vote per
MRZ character. A result is given once every character has a clear majority of
at least `min_agree` frames and the voted MRZ validates; a read that keeps
coming out invalid the same way ends as a mismatch; no clear read within
`max_frames` frames or `timeout_s` seconds ends as unreadable. Nothing is stored
beyond the OCR'd text of the current session.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import numpy as np

from .expected_names import ANY, cells_off, expected_zones, one_letter_off
from .formats import MrzFormat
from .fr_id_1988 import check_digit
from .grid import (
    MRZ_ALPHABET,
    SILENT,
    SILENT_MARGIN,
    STYLES,
    CellScores,
    LineMemo,
    Style,
    first_line_score,
    read_crop_cells,
    settle_silent,
)
from .guidance import Hint, hint_for
from .locate import MrzCrop, find_mrz, sharpened_if_small, sharpness, to_gray
from .normalise import LAYOUTS, NAME_ZONES, alphanumeric_cells, layout_for, normalise
from .parse import ParsedMrz, parse
from .result import IdCheckResult, Outcome, names_match

log = logging.getLogger(__name__)

Lines = tuple[str, ...]
GRID_CHAR_HEIGHT = 24  # rectified glyph height the grid reader works at (see grid.py)


def plausibility(fmt: MrzFormat, lines: Lines) -> float:
    """Share of characters that fit the format's layout (digits where digits go ...)."""
    hits = total = 0
    for line, layout in zip(lines, LAYOUTS[fmt], strict=True):
        for ch, kind in zip(line, layout, strict=True):
            total += 1
            hits += ch == "<" or (kind == "D" and ch.isdigit()) or (kind == "A" and ch.isalpha()) or (
                kind in "XC" and ch.isalnum()) or (kind == "L" and ch.isalpha())
    return hits / total if total else 0.0


# (line, start) of each date field followed by its check digit: the reading that validates
# them comes from the right orientation (a card flipped vertically keeps its '<' shapes and
# reads as plausible-looking letters, but its dates do not check).
DATE_FIELDS: dict[MrzFormat, tuple[tuple[int, int], ...]] = {
    MrzFormat.TD1: ((1, 0), (1, 8)),
    MrzFormat.TD3: ((1, 13), (1, 21)),
    MrzFormat.FR_ID_1988: ((1, 27),),
}


def dates_checked(fmt: MrzFormat, lines: Lines) -> int:
    """How many date fields of a normalised read match their check digit."""
    hits = 0
    for line, start in DATE_FIELDS[fmt]:
        field, digit = lines[line][start:start + 6], lines[line][start + 6]
        hits += field.isdigit() and digit.isdigit() and check_digit(field) == digit
    return hits


# Mean template score gained per date that matches its check digit: right and wrong
# orientations differ by 0.02-0.04 in mean score (tuning crops), a date by chance 1 in 10.
ORIENTATION_DATE_WEIGHT = 0.03


# Name cells a vote may settle for the appointment's letter short of a 2:1 lead (see vote).
MAX_NAME_OVERRIDES = 2


def vote(fmt: MrzFormat, reads: list[Lines], min_agree: int = 2, expected: Lines | None = None) -> Lines | None:
    """Per-character majority over one format's reads, or None while any character is undecided.

    With `expected` (expected_names.expected_zones: the appointment's name where the card's
    name zones begin, ANY elsewhere), a name cell whose plurality is the expected letter takes it
    without the 2:1 lead the plain vote asks for (three frames reading O, two reading D), when at
    least `min_agree` frames read it. Never on a tie, never against the plurality: an impostor's
    card is then read for the claimant's name only where the plain vote, given more frames, would
    have read it too (a 3:3 tie between QUENTIN and GUENTIN settled by the name claimed was measured
    to verify a look-alike name). At most MAX_NAME_OVERRIDES cells per check are settled so; past
    that the expectation is dropped (None: the caller votes plainly).
    """
    if len(reads) < min_agree:
        return None
    out: list[str] = []
    overrides = 0
    for i in range(fmt.line_count):
        # A cell Tesseract left empty usually means its boxes slipped off the grid on that
        # line, so such line reads only vote when there are not enough clean ones.
        lines = [r[i] for r in reads if "?" not in r[i]]
        if len(lines) < min_agree:
            lines = [r[i] for r in reads]
        chars: list[str] = []
        for j in range(fmt.line_length):
            counts = Counter(line[j] for line in lines if line[j] != "?")
            ranked = counts.most_common(2)
            decided = bool(ranked) and ranked[0][1] >= min_agree and not (
                len(ranked) > 1 and ranked[1][1] * 2 > ranked[0][1])
            want = expected[i][j] if expected is not None else ANY
            if want != ANY and counts[want] >= min_agree and all(
                    n < counts[want] for ch, n in counts.items() if ch != want):
                if not decided:
                    overrides += 1
                    if overrides > MAX_NAME_OVERRIDES:
                        return None
                chars.append(want)
                continue
            if not decided:
                return None
            chars.append(ranked[0][0])
        out.append("".join(chars))
    return tuple(out)


def number_agreed(fmt: MrzFormat, reads: list[Lines], voted: Lines, min_agree: int = 2) -> bool:
    """The document number (every alphanumeric cell) was read exactly as voted by `min_agree`
    frames, and by at least three times as many frames as read another number (a complete
    reading differing at an alphanumeric cell).

    A per-character vote can assemble a number no single frame saw; alphanumeric cells are
    never corrected, so this is what stands between two misreads that cancel out under the
    check digit and a wrong number accepted.
    """
    wanted = alphanumeric_cells(fmt, voted)
    # Which cells of the field are alphanumeric (never corrected, not caught alone by a check
    # digit): a reading that differs from the vote only at digit-only cells (a department's
    # first digit, a check digit) is a misread frame, not another number, and does not dissent.
    kinds = alphanumeric_cells(fmt, layout_for(fmt, voted))
    seen = Counter(alphanumeric_cells(fmt, r) for r in reads)
    agree = seen.pop(wanted, 0)
    others = sum(n for key, n in seen.items() if "?" not in key and any(
        a != b and k in "XCL" for a, b, k in zip(key, wanted, kinds, strict=True)))
    # A dissenting complete reading needs three agreeing ones to outweigh it: the same pair
    # of cells misread alike twice (H4YF9H91U read M4YF9M91U: H->M at two weight-7 cells
    # changes the sum by 70) was seen to pass its check digit against one genuine read.
    return agree >= max(min_agree, 3 * others)


# Summed margin (best glyph over the best other one, over the frames) an unsure alphanumeric
# cell needs to be filled: one frame's worth of the single-frame margin (grid.ALNUM_MARGIN).
FILL_MARGIN = 0.03


def fill_unsure(reads: list[Lines], cells: list[CellScores], min_agree: int = 2) -> list[Lines]:
    """The reads with their unsure alphanumeric cells filled where every frame leans one way.

    A document-number cell whose best glyph beats the runner-up by less than the single-frame
    margin is left unsure (never guessed from one frame). Across frames, such a cell is filled
    with glyph g, in the frames whose best glyph there is g, only when: no frame read another
    glyph there surely; g is the best glyph in at least `min_agree` frames and in three times
    as many frames as any other glyph; and g's lead over the best other glyph, summed over all
    the frames (a frame leaning elsewhere counts against), reaches FILL_MARGIN; and in every
    frame g leads the glyphs it could silently be swapped with by grid.SILENT_MARGIN. A cell seen
    differently by different frames stays unsure; number_agreed then still asks for frames
    that read the whole number alike.
    """
    if len(reads) != len(cells) or len(reads) < min_agree:
        return reads
    positions = {(li, j) for read in reads for li, line in enumerate(read) for j, ch in enumerate(line) if ch == "?"}
    out = [[list(line) for line in read] for read in reads]
    for pos in positions:
        li, j = pos
        rows = [c.get(pos) for c in cells]
        if any(r is None for r in rows):
            continue  # a frame read this cell under another layout: leave it
        stack = np.stack([r for r in rows if r is not None])
        best = np.argmax(stack, axis=1)
        g = int(np.argmax(np.where(np.isfinite(stack), stack, -2.0).sum(axis=0)))
        glyph = MRZ_ALPHABET[g]
        if any(read[li][j] not in ("?", glyph) for read in reads):
            continue
        support = int(np.sum(best == g))
        if support < max(min_agree, 3 * (len(best) - support)):
            continue
        others = np.delete(stack, g, axis=1).max(axis=1)
        if float(np.sum(stack[:, g] - others)) < FILL_MARGIN:
            continue
        # A glyph g could be silently swapped with (the check digits cannot tell) must be
        # clearly behind in every frame, as in a single sure read: no summing for those.
        if SILENT[g].any() and float((stack[:, g, None] - stack[:, SILENT[g]]).min()) < SILENT_MARGIN:
            continue
        for k, read in enumerate(reads):
            if read[li][j] == "?" and best[k] == g:
                out[k][li][j] = glyph
    return [tuple("".join(line) for line in read) for read in out]


# Band sharpness (variance of the Laplacian at GRID_CHAR_HEIGHT) under which a frame is not
# read. Small cards (40-50 % of a 640 frame) give legible bands at 17-19: at 20 those frames were
# skipped (tuning seeds 0-59: 154/180 exact at 20, 157 at 16). Blurred webcam frames (blur
# sigma 1.2-1.5, VP8) of small cards give bands at 7-15 that the locator fits with the right
# format and that read 0.9+ plausible: at 16 every frame of 19 of the tuning part's failed
# checks was skipped. Tuning seeds 0-179: 482/540 exact at 16, 485 at 8 and at 4; held-out
# seeds 0-179 (counted only) 495 -> 497 at 8; 0 wrong accepted at every value.
MIN_SHARPNESS = 8.0
# A frame whose band is under this share of the sharpest trusted read's is skipped: motion blur
# yields confident misreads.
RELATIVE_SHARPNESS = 0.3


class FrameReader:
    """One ID check session. Call feed(frame) per decoded frame until it returns a result."""

    def __init__(self, first_name: str | None = None, last_name: str | None = None, *,
                 today: date | None = None, min_agree: int = 2, mismatch_agree: int = 3,
                 max_frames: int = 40, timeout_s: float = 20.0, min_sharpness: float = MIN_SHARPNESS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.first_name, self.last_name = first_name, last_name
        self.today = today or date.today()
        self.min_agree, self.mismatch_agree = min_agree, mismatch_agree
        self.max_frames, self.timeout_s = max_frames, timeout_s
        self.min_sharpness = min_sharpness
        self._clock = clock
        self._started: float | None = None
        self._best_sharpness = 0.0
        self._styles: tuple[Style, ...] = STYLES  # OCR-B faces and softenings worth trying (grid.py)
        self._turn = 0  # orientation that worked last (see MrzCrop.oriented), tried first
        self._turn_confirmed = False  # a date of a read in that orientation matched its check digit
        self._reads: dict[MrzFormat, list[Lines]] = {}
        self._cells: dict[MrzFormat, list[CellScores]] = {}  # each read's alphanumeric cell scores
        self.frames_seen = 0
        self.frames_read = 0
        self.hint: Hint | None = None  # what the person should change, from the last frame (guidance.py)
        self.result: IdCheckResult | None = None
        # a valid read whose name differs, not yet final, with the voted lines it was parsed from
        self._held: tuple[MrzFormat, ParsedMrz, Lines] | None = None
        self._expected: dict[MrzFormat, list[Lines]] = {}  # expected_names masks of the appointment's name
        self._filled_for: dict[MrzFormat, tuple[int, list[Lines]]] = {}  # fill_unsure of the first n reads

    @property
    def done(self) -> bool:
        return self.result is not None

    def feed(self, frame: np.ndarray) -> IdCheckResult | None:
        """Process one frame; returns the final result once there is one, else None."""
        if self.result is not None:
            return self.result
        if self._started is None:
            self._started = self._clock()
        self.frames_seen += 1
        try:
            self._read_frame(frame)
        except Exception:  # a bad frame must never end the call; it just does not count
            log.exception("idcheck: frame %d could not be processed", self.frames_seen)
        if self.result is None and (self.frames_seen >= self.max_frames
                                    or self._clock() - self._started >= self.timeout_s):
            self.finish()
        return self.result

    def finish(self) -> IdCheckResult:
        """Give up now (frame or time budget spent, or the caller stops): best verdict so far."""
        if self.result is None:
            voted = self._stable_invalid(self.mismatch_agree) or self._held_standing()
            if voted is not None:
                self.result = self._verdict(*voted)
            else:
                self.result = IdCheckResult(Outcome.UNREADABLE, ("no_consistent_read",), checked_on=self.today,
                                            frames_seen=self.frames_seen, frames_read=self.frames_read)
        return self.result

    # -- internals ---------------------------------------------------------

    def _read_frame(self, frame: np.ndarray) -> None:
        gray = to_gray(frame)
        if gray is None:
            return
        crop = find_mrz(gray, GRID_CHAR_HEIGHT)
        if crop is None:
            self.hint = hint_for(None, 0.0, self._best_sharpness)
            return
        # Sharpness of the MRZ band itself (at a fixed glyph size), not of the whole frame,
        # which depends on the background. Frames much blurrier than the best read are
        # skipped: motion blur yields confident misreads. Only a crop read as this MRZ (a date
        # matching its check digit) sets that bar: a crop warped by a wrong fit (tiny glyphs,
        # 3-4x the band's sharpness) would skip every good frame after it.
        sharp = sharpness(crop.image)
        self.hint = hint_for(crop, sharp, max(self._best_sharpness, sharp))
        if sharp < self.min_sharpness or sharp < RELATIVE_SHARPNESS * self._best_sharpness:
            return
        read = self._read_oriented(sharpened_if_small(crop))
        if read is None:
            return
        fmt, lines, checked, cells = read
        self.frames_read += 1
        if checked:
            self._best_sharpness = max(self._best_sharpness, sharp)
        self._reads.setdefault(fmt, []).append(lines)
        self._cells.setdefault(fmt, []).append(cells)
        voted = self._vote(fmt)
        if voted is None:
            return
        parsed = parse(fmt, voted, self.today)
        if parsed is not None and not parsed.check_digits_valid:
            voted, parsed = self._name_confirmed(fmt, voted, parsed)
        if (parsed is not None and parsed.check_digits_valid and parsed.fields_valid
                and self._number_agreed(fmt, voted)):
            verdict = self._verdict(fmt, parsed)
            # A valid document whose name is not the appointment's is only final once that
            # name was read alike by mismatch_agree frames, as an invalid read must be: two
            # blurred frames reading QUENTIN as GUENTIN must not end the check while the next
            # ones can settle it (vote weighs the appointment's letter in). Held meanwhile:
            # finish() gives it if nothing better comes.
            if "name" in verdict.reasons and self._name_reads(fmt, voted) < self.mismatch_agree:
                self._held = (fmt, parsed, voted)
                return
            self.result = verdict
            return
        stable = self._stable_invalid(self.mismatch_agree)
        if stable is not None:
            self.result = self._verdict(*stable)

    def _read_oriented(self, crop: MrzCrop) -> tuple[MrzFormat, Lines, int, CellScores] | None:
        """(format, normalised lines, dates that check, cells) of the crop, read in the orientation
        confirmed earlier; until one is, or while it reads as noise, try all four (upside down,
        mirrored) and keep the one whose cells match the OCR-B drawings best, a date matching its
        check digit weighing in (a card flipped vertically keeps many symmetric glyphs, but its
        dates do not check)."""
        # The turned crops are kept for the frame, so that the line reads of the ranking below
        # are reused by the full reads (grid.LineMemo, keyed by the images' identity).
        crops: dict[int, MrzCrop] = {}
        memo: LineMemo = {}

        def turned(t: int) -> MrzCrop:
            if t not in crops:
                crops[t] = crop.oriented(t)
            return crops[t]

        if self._turn_confirmed:
            turns = [self._turn] + [t for t in range(4) if t != self._turn]
        else:
            # Rank the four by their first line's match alone (a quarter of a full read each),
            # then read the two best in full.
            oriented = {t: first_line_score(turned(t), memo) for t in range(4)}
            turns = sorted(oriented, key=lambda t: -oriented[t])[:2]
        best: tuple[float, int, MrzFormat, Lines, Lines, int, CellScores, Style] | None = None
        styles = self._styles
        for turn in turns:
            found = read_crop_cells(turned(turn), styles, memo)
            if found is None:
                continue
            fmt, lines, mean, cells, style = found
            styles = (style,)  # the runner-up orientation is compared in the style that fitted best
            normal = normalise(fmt, lines)
            checked = dates_checked(fmt, normal)
            score = mean + ORIENTATION_DATE_WEIGHT * checked
            if best is None or score > best[0]:
                best = (score, turn, fmt, lines, normal, checked, cells, style)
            if self._turn_confirmed and turn == self._turn and plausibility(fmt, lines) >= 0.9:
                break
        if best is None:
            return None
        _, turn, fmt, lines, normal, checked, cells, style = best
        if checked == len(DATE_FIELDS[fmt]):  # only a clean read (its dates check) looks again
            settled = settle_silent(turned(turn), fmt, lines, cells, style, memo)
            if settled != lines:  # a settled cell is a number's: the dates are unchanged
                lines, normal = settled, normalise(fmt, settled)
        # Confirmed when the orientation that won before wins again with a date that checks.
        self._turn_confirmed = turn == self._turn and (self._turn_confirmed or checked > 0)
        self._turn = turn
        # The card's face and the camera's softening change little from frame to frame: once a
        # read is trusted (its orientation confirmed), later frames try only the style that
        # fitted it (the first line otherwise costs six times as much).
        if self._turn_confirmed:
            self._styles = (style,)
        return (fmt, normal, checked, cells) if plausibility(fmt, lines) >= 0.75 else None

    def _filled(self, fmt: MrzFormat) -> list[Lines]:
        """The reads with unsure cells filled across frames (fill_unsure), computed once per new
        read: the vote, the number's agreement and the name's count all start from it."""
        n = len(self._reads[fmt])
        cached = self._filled_for.get(fmt)
        if cached is None or cached[0] != n:
            cached = (n, fill_unsure(self._reads[fmt], self._cells[fmt], self.min_agree))
            self._filled_for[fmt] = cached
        return cached[1]

    def _vote(self, fmt: MrzFormat) -> Lines | None:
        """The frames' vote; where they disagree on a name letter, the appointment's letter is
        weighed in (vote, expected_names) when one of its spellings makes a whole vote."""
        filled = self._filled(fmt)
        for mask in self._masks(fmt):
            voted = vote(fmt, filled, self.min_agree, mask)
            if voted is not None:
                return voted
        return vote(fmt, filled, self.min_agree)

    def _masks(self, fmt: MrzFormat) -> list[Lines]:
        """The appointment's spellings (expected_names masks), once per format and check."""
        if self.last_name is None:
            return []
        if fmt not in self._expected:
            self._expected[fmt] = expected_zones(fmt, self.first_name or "", self.last_name)
        return self._expected[fmt]

    def _name_confirmed(self, fmt: MrzFormat, voted: Lines, parsed: ParsedMrz) -> tuple[Lines, ParsedMrz]:
        """A vote failing its check digits, whose one name letter off the appointment's spelling
        makes them pass once replaced, where they cover the names (expected_names.one_letter_off):
        that letter was misread alike by the frames. Else the vote as it is."""
        for lines in one_letter_off(fmt, voted, self._masks(fmt)):
            fixed = parse(fmt, lines, self.today)
            if fixed is not None and fixed.check_digits_valid and fixed.fields_valid:
                return lines, fixed
        return voted, parsed

    def _held_standing(self) -> tuple[MrzFormat, ParsedMrz] | None:
        """The held name mismatch, unless the frames read after it split on it: where its name
        differs from one of the appointment's spellings, every such cell read with the
        appointment's letter by as many frames as with its own. Two blurred frames read OCEANE as
        CCEANE, the next two OCEANE (tuning check TD3 164): that card was not shown to bear
        another name, and finish() says unreadable rather than a mismatch."""
        if self._held is None:
            return None
        fmt, parsed, held = self._held
        reads = self._filled(fmt)
        for mask in self._masks(fmt):
            cells = cells_off(mask, held)
            if cells and all(sum(r[li][j] == mask[li][j] for r in reads) >= sum(r[li][j] == held[li][j] for r in reads)
                             for li, j in cells):
                return None
        return fmt, parsed

    def _name_reads(self, fmt: MrzFormat, voted: Lines) -> int:
        """How many frames read the voted name zones exactly so."""
        def zones(lines: Lines) -> tuple[str, ...]:
            return tuple(lines[li][start:end] for li, start, end in NAME_ZONES[fmt])
        wanted = zones(voted)
        return sum(zones(r) == wanted for r in self._filled(fmt))

    def _number_agreed(self, fmt: MrzFormat, voted: Lines) -> bool:
        return number_agreed(fmt, self._filled(fmt), voted, self.min_agree)

    def _stable_invalid(self, agree: int) -> tuple[MrzFormat, ParsedMrz] | None:
        """An MRZ read identically by `agree` frames: the card says this, even if it does not validate."""
        for fmt in self._reads:
            reads = self._filled(fmt)
            lines, count = Counter(reads).most_common(1)[0]
            if count >= agree:
                parsed = parse(fmt, lines, self.today)
                # Only a well-formed MRZ counts as read; other text stays "unreadable".
                if parsed is not None and parsed.fields_valid and (
                        not parsed.check_digits_valid or number_agreed(fmt, reads, lines, self.min_agree)):
                    return fmt, parsed
        return None

    def _verdict(self, fmt: MrzFormat, parsed: ParsedMrz) -> IdCheckResult:
        reasons: list[str] = []
        if not parsed.check_digits_valid:
            reasons.append("check_digits")
        if not parsed.fields_valid:
            reasons.append("fields")
        if parsed.expiry_date is not None and parsed.expiry_date < self.today:
            reasons.append("expired")
        if self.last_name is not None and not names_match(
                parsed.surname, parsed.given_names, self.first_name or "", self.last_name,
                parsed.surname_truncated, parsed.given_names_truncated):
            reasons.append("name")
        return IdCheckResult(
            outcome=Outcome.MISMATCH if reasons else Outcome.VERIFIED,
            reasons=tuple(reasons),
            document_format=fmt,
            document_type=parsed.document_code,
            surname=parsed.surname,
            given_names=parsed.given_names,
            birth_date=parsed.birth_date,
            document_number=parsed.document_number,
            expiry_date=parsed.expiry_date,
            expiry_estimated=parsed.expiry_estimated,
            all_check_digits_valid=parsed.check_digits_valid,
            checked_on=self.today,
            surname_truncated=parsed.surname_truncated,
            given_names_truncated=parsed.given_names_truncated,
            frames_seen=self.frames_seen,
            frames_read=self.frames_read,
        )


def check_frames(frames: Iterable[np.ndarray], first_name: str | None = None, last_name: str | None = None,
                 **options: Any) -> IdCheckResult:
    """Run one check over an iterable of frames (stops pulling frames once decided)."""
    reader = FrameReader(first_name, last_name, **options)
    for frame in frames:
        if reader.feed(frame) is not None:
            break
    return reader.finish()
