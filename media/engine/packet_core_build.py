"""Build the packet path's compiled core (packet_core.c) as media/engine/_packet_core*.so.

cffi's out-of-line API mode writes the module's C, gcc compiles it against this Python's
headers (no setuptools: one compiler call). `./dev` runs this after installing the
requirements (`--if-stale`: again whenever packet_core.c or this file changed); a failure
is reported and leaves the engine on its Python path (packet_core.py logs which one it
uses). Needs gcc and Python.h (pyenv's and python.org's builds have it; Debian's
python3.X needs python3.X-dev).

    .venv/bin/python media/engine/packet_core_build.py [--if-stale]
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import cffi  # type: ignore[import-untyped]  # no stubs; its C output is what counts

HERE = Path(__file__).resolve().parent
MODULE = "media.engine._packet_core"

CDEF = """
typedef int (*gv_srtp_fn)(void *srtp, void *data, int *length);
typedef struct {
    gv_srtp_fn protect;
    void *srtp;
    uint32_t ssrc;
    uint8_t map[256];
    uint8_t mid[16];
    int mid_length;
    int mid_id;
    int abs_id;
    uint8_t playout[4];
    int playout_length;
} gv_forward;
#define GV_MAX_PACKET ...
#define GV_TRAILER ...
#define GV_FALLBACK ...
#define GV_TOO_LONG ...
#define GV_MALFORMED ...
int gv_forward_packet(const gv_forward *f, char *buffer, const uint8_t *data, int size, int marker,
                      int payload_type, int sequence, uint32_t timestamp, uint64_t ntp,
                      int start, int end, const uint8_t *payload, int payload_length);
int gv_protect_parts(const gv_forward *f, char *buffer, const uint8_t *header, int header_length,
                     const uint8_t *extensions, int extensions_length, const uint8_t *payload, int payload_length);
int gv_unprotect(gv_srtp_fn unprotect, void *srtp, char *buffer, const uint8_t *data, int size);
#define GV_FIELDS ...
#define GV_NONE ...
#define GV_AUDIO ...
#define GV_VP8 ...
#define GV_H264 ...
#define GV_OTHER ...
int gv_inspect(const uint8_t *data, int size, int tcc_id, int abs_id, int codec, uint32_t *out);
#define GV_ABSENT ...
#define GV_NOT_MAPPED ...
#define GV_NO_MEMORY ...
typedef struct {
    int clock_rate, keyframes, started;
    uint32_t seq_offset, ts_offset;
    int base, highest, max_seq;
    uint32_t last_ts;
    int has_time;
    double last_time;
    uint64_t packets, octets;
    int last_octets;
} gv_numbering;
typedef struct {
    uint8_t *data;
    int capacity, size;
    int sequence;
    uint32_t timestamp, ssrc;
    int marker, payload_type, start, end, keyframe;
} gv_slot;
typedef struct gv_ring gv_ring;
int gv_map(gv_numbering *n, int sequence, uint32_t timestamp, int keyframe, double now, uint32_t *out_ts);
int gv_forward_mapped(const gv_forward *f, gv_numbering *n, char *buffer, const uint8_t *data, int size,
                      int marker, int payload_type, int sequence, uint32_t timestamp, int keyframe, double now,
                      uint64_t ntp, int start, int end, const uint8_t *payload, int payload_length,
                      uint32_t *mapped);
gv_ring *gv_ring_new(int size);
void gv_ring_free(gv_ring *r);
int gv_ring_put(gv_ring *r, const uint8_t *data, int size, int marker, int payload_type, int sequence,
                uint32_t timestamp, uint32_t ssrc, int start, int end, int keyframe);
const gv_slot *gv_ring_get(const gv_ring *r, int sequence);
int gv_ring_state(const gv_ring *r, int sequence);
int gv_ring_forward(const gv_ring *r, int sequence, const gv_forward *f, gv_numbering *n, char *buffer,
                    int payload_type, double now, uint64_t ntp, uint32_t *mapped);
#define GV_REMB_SSRC ...
#define GV_REMB_RESET ...
#define GV_REMB_CLOSED ...
#define GV_REMB_UPDATE ...
#define GV_REMB_WINDOW_MS ...
#define GV_REMB_GROUP_LENGTH ...
#define GV_REMB_BURST_MS ...
#define GV_REMB_HISTORY ...
#define GV_REMB_MIN_DELTAS ...
#define GV_REMB_MAX_DELTAS ...
#define GV_REMB_MAX_ADAPT_OFFSET_MS ...
typedef struct {
    int started, overusing, has_update, has_ssrc;
    uint32_t first, last, ssrc;
    int64_t arrival, size;
    int64_t pending, pending_first, origin;
    int64_t last_update, feedback_interval, reduce_interval;
    int64_t closed_pending, closed_pending_first;
    int has_previous;
    uint32_t previous_last;
    int64_t previous_arrival, previous_size;
    double e00, e01, e10, e11, offset, previous_offset, slope, avg_noise, var_noise;
    int deltas, history_length, history_at;
    double history[60];
    double noise0, noise1;
    int hypothesis, overuse_counter, has_overuse_time, has_threshold_update;
    double overuse_time, detector_offset, threshold;
    int64_t threshold_update;
    double k_up, k_down, overuse_time_threshold;
} gv_remb;
void gv_remb_init(gv_remb *r, int64_t feedback_interval, int64_t reduce_interval);
int gv_remb_add(gv_remb *r, int64_t arrival, uint32_t abs_send_time, int size, uint32_t ssrc);
"""


def source_id() -> int:
    """Names the sources a module was built from (60 bits of their SHA-256): packet_core.py
    loads no module built from other sources (a struct laid out differently would corrupt memory)."""
    digest = hashlib.sha256((CDEF + (HERE / "packet_core.c").read_text()).encode()).hexdigest()
    return int(digest[:15], 16)


def target() -> Path:
    return HERE / ("_packet_core" + str(sysconfig.get_config_var("EXT_SUFFIX")))


def build() -> Path:
    ffi = cffi.FFI()
    ffi.cdef(CDEF + "#define GV_SOURCE_ID ...\n")
    ffi.set_source(MODULE, f"#define GV_SOURCE_ID {source_id()}LL\n" + (HERE / "packet_core.c").read_text())
    out = target()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "_packet_core.c"
        with contextlib.redirect_stdout(io.StringIO()):  # cffi says "generating ..."
            ffi.emit_c_code(str(source))
        compiler = os.environ.get("CC") or shutil.which("gcc") or shutil.which("cc") or "gcc"
        built = Path(tmp) / out.name
        command = [compiler, "-shared", "-fPIC", "-O2", "-fno-strict-aliasing", "-ffp-contract=off",
                   f"-I{sysconfig.get_paths()['include']}", str(source), "-o", str(built), "-lm"]
        subprocess.run(command, check=True)  # noqa: S603 - fixed argv, no shell
        built.replace(out)  # atomically: a running process keeps the file it mapped
    return out


def stale() -> bool:
    """Not built yet, or built before its sources last changed."""
    out = target()
    if not out.exists():
        return True
    built = out.stat().st_mtime
    return any(source.stat().st_mtime > built for source in (HERE / "packet_core.c", Path(__file__)))


if __name__ == "__main__":
    if "--if-stale" in sys.argv[1:] and not stale():
        sys.exit(0)
    try:
        print(f"packet core built: {build().relative_to(HERE.parent.parent)}")
    except (OSError, subprocess.CalledProcessError, cffi.CDefError, cffi.VerificationError) as exc:
        print(f"packet core not built ({exc}): the media engine uses its Python path", file=sys.stderr)
        sys.exit(1)
