"""A valid card whose name differs from the appointment's is held until 3 frames read that name
alike; when the check ends first, the held mismatch is given only if the frames did not split on
it afterwards (reader.FrameReader._held_standing)."""

from datetime import date
from types import SimpleNamespace

import numpy as np
import pytest

from bench.idcheck_eval import TUNING, make_check
from bench.idcheck_eval.scoring import read_check
from media.idcheck import FrameReader, MrzFormat, Outcome, reader

TODAY = date(2026, 11, 23)
LINE2 = "10GH364784FRA4909259M2708160<<<<<<<<<<<<<<08"  # valid check digits
OTHER_NUMBER = LINE2.replace("10GH", "10QH")  # another number (fails its check digit)


def _td3(names: str, line2: str = LINE2) -> tuple[str, str]:
    return ("P<FRA" + names.ljust(39, "<"), line2)


def _check(reads: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> FrameReader:
    """A reader for Océane Abdelkader fed one frame per read, each frame read as given (the
    locator and recogniser are what other tests cover; this is the reader's decision)."""
    monkeypatch.setattr(reader, "find_mrz", lambda gray, height: SimpleNamespace(image=None, pitch_px=0.0))
    monkeypatch.setattr(reader, "sharpness", lambda image: 100.0)
    monkeypatch.setattr(reader, "hint_for", lambda crop, sharp, best: None)
    queue = list(reads)
    monkeypatch.setattr(FrameReader, "_read_oriented",
                        lambda self, crop: (MrzFormat.TD3, queue.pop(0), 2, {}))
    check = FrameReader("Océane", "Abdelkader", today=TODAY, max_frames=len(reads))
    frame = np.full((480, 640, 3), 128, np.uint8)
    for _ in reads:
        if check.feed(frame) is not None:
            break
    assert check.frames_read == check.frames_seen  # every frame was read as given
    return check


def test_a_name_read_by_two_frames_is_held_not_final(monkeypatch: pytest.MonkeyPatch) -> None:
    check = _check([_td3("ABDELKADER<<CCEANE")] * 2 + [_td3("ABDELKADER<<XXEANE", OTHER_NUMBER)], monkeypatch)
    assert check.result is not None and check.result.outcome is Outcome.MISMATCH  # budget spent: finish()
    assert check.result.reasons == ("name",) and check.result.given_names == "CCEANE"


def test_a_held_mismatch_is_dropped_when_later_frames_read_the_appointments_letter_as_often(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two frames read CCEANE (held), two read OCEANE with another number (no valid vote): the
    frames split 2:2 on the letter, so the card was not shown to bear another name."""
    reads = [_td3("ABDELKADER<<CCEANE")] * 2 + [_td3("ABDELKADER<<OCEANE", OTHER_NUMBER)] * 2
    check = _check(reads, monkeypatch)
    assert check.result is not None
    assert check.result.outcome is Outcome.UNREADABLE and check.result.reasons == ("no_consistent_read",)


def test_a_held_mismatch_stands_while_its_letter_leads(monkeypatch: pytest.MonkeyPatch) -> None:
    reads = ([_td3("ABDELKADER<<CCEANE")] * 2 + [_td3("ABDELKADER<<OCEANE", OTHER_NUMBER)]
             + [_td3("ABDELKADER<<CXEANE", OTHER_NUMBER)])
    check = _check(reads, monkeypatch)
    assert check.result is not None and check.result.outcome is Outcome.MISMATCH
    assert check.result.given_names == "CCEANE"


def test_a_split_never_turns_a_held_card_into_a_verified_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropping a held mismatch gives unreadable, never verified, even when the appointment's
    spelling ends up with more frames: the number must still be agreed."""
    reads = [_td3("ABDELKADER<<CCEANE")] * 2 + [_td3("ABDELKADER<<OCEANE", OTHER_NUMBER)] * 3
    check = _check(reads, monkeypatch)
    assert check.result is not None and check.result.outcome is Outcome.UNREADABLE


def test_the_evaluation_card_whose_frames_split_on_a_name_letter_is_not_called_a_mismatch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tuning check TD3 164 (rendered frames, VP8, blur 1.08): OCEANE read CCEANE by the first two
    frames, OCEANE by two later ones whose number differs; it was given as a name mismatch.
    Its crops sharpened (the MRZ is small: reader.sharpened_if_small), the frames read it right."""
    check = make_check(MrzFormat.TD3, 164, TUNING)
    assert read_check(check, TODAY).exact
    monkeypatch.setattr(reader, "sharpened_if_small", lambda crop: crop)
    result = read_check(check, TODAY).result
    assert result.outcome is Outcome.UNREADABLE
