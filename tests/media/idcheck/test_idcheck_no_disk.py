"""Nothing on disk: a whole check runs with TMPDIR and the working directory pointed at empty
folders watched by inotify (every file created, even one deleted at once, is reported)."""

import ctypes
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
IN_NONBLOCK = 0o4000
IN_CREATE, IN_MOVED_TO, IN_MODIFY = 0x100, 0x80, 0x2

CHILD = """
import sys, tempfile
from datetime import date
from media.idcheck import MrzFormat, check_frames
from media.idcheck.synthetic import card_frames, make_card
if sys.argv[1] == "control":
    with tempfile.NamedTemporaryFile():  # what pytesseract did with each crop
        pass
card = make_card(MrzFormat.TD1, 4)
result = check_frames(card_frames(card, 4, 4), card.given_names, card.surname, today=date(2026, 11, 23),
                      max_frames=4)
print(result.outcome.value, result.frames_read)
"""


class Watch:
    def __init__(self, *folders: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        assert self.fd >= 0
        for folder in folders:
            assert self.libc.inotify_add_watch(self.fd, str(folder).encode(), IN_CREATE | IN_MOVED_TO | IN_MODIFY) >= 0

    def events(self) -> bytes:
        try:
            return os.read(self.fd, 65536)
        except BlockingIOError:
            return b""

    def close(self) -> None:
        os.close(self.fd)


def _run(tmp_path: Path, mode: str) -> tuple[str, bytes]:
    tmpdir, workdir = tmp_path / f"tmp-{mode}", tmp_path / f"cwd-{mode}"
    tmpdir.mkdir()
    workdir.mkdir()
    watch = Watch(tmpdir, workdir)
    try:
        env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
        done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=300, check=True)
        events = watch.events()
    finally:
        watch.close()
    if mode == "check":
        assert not list(tmpdir.iterdir()) and not list(workdir.iterdir())
    return done.stdout.strip(), events


def test_a_check_writes_nothing(tmp_path):
    out, events = _run(tmp_path, "check")
    outcome, frames_read = out.split()
    assert outcome == "verified" and int(frames_read) >= 2  # the OCR really ran
    assert events == b"", "the check created files in TMPDIR or its working directory"


def test_the_watch_sees_a_temporary_file_even_when_deleted_at_once(tmp_path):
    out, events = _run(tmp_path, "control")
    assert out.startswith("verified")
    assert events != b""
