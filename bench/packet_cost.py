"""Instructions per forwarded packet on the packet path's hot work, counted by callgrind.

Load-independent (the machine's other processes do not change an instruction count), so
it compares implementations where a CPU-share bench on this shared VM cannot: each
`--impl` (python: packets.py + srtp_direct.py, the reference; compiled: packet_core's C)
forwards the same 1.1 KB VP8 packets with Chrome's header extensions through what a
forward does per packet: unprotect (publisher's SRTP), read (parse, transport-cc and
abs-send-time values, keyframe start: `Core.inspector`), rewrite for the subscriber
(sequence, timestamp, SSRC, payload type, extension ids, mid, abs-send-time), protect
(subscriber's SRTP). The count is the difference between a run that makes and forwards
`--packets` packets and one that only makes them (start-up and the inputs cancel out),
divided by `--packets`.

    .venv/bin/python bench/packet_cost.py            # both implementations, ratio printed
    .venv/bin/python bench/packet_cost.py --impl python --packets 2000
    .venv/bin/python bench/packet_cost.py --history    # + the publication's history and numbering

`--history` counts what a video packet costs through the publication's bookkeeping too: kept
in the history, then forwarded from it with the subscriber's numbering (packet_path's
`_release` in order: `History.add`, `Forwarder.forward_stored`); `--impl compiled-objects` is the
compiled forward with the Python History and Rewriter (the path before the C ring).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAYLOAD = 1100
PUBLISHER_EXTENSIONS = {  # Chrome's video ids
    2: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    3: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    4: "urn:ietf:params:rtp-hdrext:sdes:mid",
    13: "urn:3gpp:video-orientation",
}
SUBSCRIBER_EXTENSIONS = {1: "urn:ietf:params:rtp-hdrext:sdes:mid",
                         3: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
                         7: "urn:3gpp:video-orientation"}


def _inputs(count: int) -> tuple[list[bytes], object, object]:
    """`count` protected publisher packets, and the (receive, send) pylibsrtp sessions."""
    import struct

    import pylibsrtp

    from media.engine.packets import build_extensions

    key = bytes(range(30))
    profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80

    def session(direction: int) -> pylibsrtp.Session:
        return pylibsrtp.Session(policy=pylibsrtp.Policy(key=key, ssrc_type=direction, srtp_profile=profile))

    publisher = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    packets = []
    for i in range(count):
        extensions = build_extensions([(2, b"\x01\x02\x03"), (3, struct.pack("!H", i)), (4, b"0"), (13, b"\x00")])
        header = struct.pack("!BBHII", 0x90, 96, (1000 + i) & 0xFFFF, 3000 * (i // 8), 0x1234)
        packets.append(publisher.protect(header + extensions + b"\x31\x02\x00" + bytes(PAYLOAD - 3)))
    return packets, session(pylibsrtp.Policy.SSRC_ANY_INBOUND), session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)


def run(impl: str, count: int, forward: bool, history: bool = False) -> None:
    """Make `count` packets and, if `forward`, forward them with `impl` (the measured process)."""
    from media.engine import packet_core
    from media.engine.packets import ExtensionMapper, Rewriter

    packets, rx, tx = _inputs(count)
    core = packet_core.implementation("compiled" if impl == "compiled-objects" else impl)
    if history:
        held = (packet_core.PYTHON if impl == "compiled-objects" else core).history()
        numbering = (packet_core.PYTHON if impl == "compiled-objects" else core).numbering(90000, True, 0, 0)
    unprotect = core.unprotector(rx)
    forwarder = core.forwarder(tx, ExtensionMapper(PUBLISHER_EXTENSIONS, SUBSCRIBER_EXTENSIONS, "1"), ssrc=0xABCD)
    inspect = core.inspector(3, 2, "vp8")  # the publisher's transport-cc and abs-send-time ids
    rewriter = Rewriter(90000, keyframes=False)
    sent = []
    for data in packets if forward and history else ():
        view, _, _ = inspect(unprotect(data))
        view.keyframe = True
        held.add(view)  # in order: released at once (packet_path's _release asks the history nothing)
        sent.append(forwarder.forward_stored(numbering, held, view.sequence, 97, 0.0, 0x1234_5678_9ABC_DEF0))
    for data in packets if forward and not history else ():
        view, _, _ = inspect(unprotect(data))
        mapped = rewriter.map(view.sequence, view.timestamp, True, 0.0)
        assert mapped is not None
        sent.append(forwarder.forward(view, 97, mapped[0], mapped[1], 0x1234_5678_9ABC_DEF0))
    assert len(sent) == (count if forward else 0)


def instructions(impl: str, count: int, forward: bool, history: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
                        "--child", "--impl", impl, "--packets", str(count), *(["--forward"] if forward else []),
                        *(["--history"] if history else [])],
                       check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        match = re.search(r"^summary:\s+(\d+)", out.read_text(), re.M)
        assert match is not None
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impl", choices=["python", "compiled", "compiled-objects"], action="append")
    parser.add_argument("--history", action="store_true",
                        help="through the publication's history and the subscriber's numbering too")
    parser.add_argument("--packets", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--forward", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    impls = args.impl or ["python", "compiled"]
    if args.child:
        run(impls[0], args.packets, args.forward, args.history)
        return
    if shutil.which("valgrind") is None:
        print("packet_cost: valgrind is not installed (apt-get install valgrind): nothing measured")
        return
    per_packet = {}
    for impl in impls:
        total = (instructions(impl, args.packets, True, args.history)
                 - instructions(impl, args.packets, False, args.history))
        per_packet[impl] = total / args.packets
        print(f"{impl}: {per_packet[impl]:,.0f} instructions per forwarded {PAYLOAD} B packet "
              f"(callgrind, {args.packets} packets)")
    for impl in ("python", "compiled-objects"):
        if "compiled" in per_packet and impl in per_packet:
            print(f"compiled / {impl}: {per_packet['compiled'] / per_packet[impl]:.2f}")


if __name__ == "__main__":
    main()
