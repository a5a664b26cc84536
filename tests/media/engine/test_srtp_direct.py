"""srtp_direct against pylibsrtp itself: the same bytes out, the same packets refused."""

from __future__ import annotations

import os
import struct

import pylibsrtp
import pytest

from media.engine import srtp_direct
from media.engine.packets import build_extensions

KEY = os.urandom(30)


def session(direction: int) -> pylibsrtp.Session:
    profile = pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    policy = pylibsrtp.Policy(key=KEY, ssrc_type=direction, srtp_profile=profile)
    return pylibsrtp.Session(policy=policy)


def packets() -> list[tuple[bytes, bytes, bytes]]:
    out = []
    for sequence in range(20):
        header = struct.pack("!BBHII", 0x90 if sequence % 2 else 0x80, 96, 1000 + sequence, 3000 * sequence, 1234)
        extensions = build_extensions([(1, b"0"), (3, b"\x01\x02\x03")]) if sequence % 2 else b""
        out.append((header, extensions, os.urandom(50 + 60 * sequence)))
    return out


def test_protect_from_parts_gives_pylibsrtps_bytes_and_both_unprotect_it() -> None:
    reference, direct = session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND), session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    protector = srtp_direct.Protector(direct)
    receiver = srtp_direct.Unprotector(session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    for header, extensions, payload in packets():
        plain = header + extensions + payload
        protected = protector.protect(header, extensions, memoryview(payload))
        assert protected == reference.protect(plain)
        assert receiver.unprotect(protected) == plain


def test_forged_replayed_and_oversized_packets_are_refused() -> None:
    protector = srtp_direct.Protector(session(pylibsrtp.Policy.SSRC_ANY_OUTBOUND))
    receiver = srtp_direct.Unprotector(session(pylibsrtp.Policy.SSRC_ANY_INBOUND))
    (header, extensions, payload), *_ = packets()
    protected = protector.protect(header, extensions, payload)
    forged = protected[:-1] + bytes([protected[-1] ^ 1])
    with pytest.raises(pylibsrtp.Error):
        receiver.unprotect(forged)
    receiver.unprotect(protected)
    with pytest.raises(pylibsrtp.Error):
        receiver.unprotect(protected)  # replayed
    with pytest.raises(ValueError):
        protector.protect(header, b"", b"\x00" * srtp_direct.MAX_PACKET)


def test_contract_holds_for_the_pinned_pylibsrtp() -> None:
    assert srtp_direct.check_contract() == []
