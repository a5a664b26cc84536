"""SRTP on the packet path without pylibsrtp's per-call glue (same library, same sessions).

Profiled on the bench server (issue 20), `pylibsrtp.Session.protect`/`unprotect` spent
more in their Python glue than libsrtp spent encrypting: a type check, a length check, a
fresh cffi `int *` per call, a name-mangled method, and (protect) a packet first joined
from its rewritten header and payload. `Protector`/`Unprotector` call the very libsrtp
functions pylibsrtp binds, on the `srtp_t` of the session aiortc's DTLS transport made,
with one preallocated buffer and length cell per session; protect copies the header,
extensions and payload straight into that buffer. Errors are pylibsrtp's (`pylibsrtp.Error`).

pylibsrtp is pinned with aiortc: `check_contract()` names what this relies on.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pylibsrtp

_binding: Any
try:
    _binding = importlib.import_module("pylibsrtp._binding")  # cffi's compiled module: no type stubs
except ImportError:  # pragma: no cover - reported by check_contract
    _binding = None
ffi: Any = getattr(_binding, "ffi", None)
lib: Any = getattr(_binding, "lib", None)

# A packet plus the largest trailer libsrtp may append (tag and MKI: pylibsrtp's SRTP_MAX_TRAILER_LEN).
MAX_PACKET = 1500
_TRAILER = 16 + 128


def raise_error(rc: int) -> None:
    """Raise pylibsrtp.Error for libsrtp's error code `rc`."""
    assert_ok: Any = pylibsrtp._srtp_assert
    assert_ok(rc)  # raises pylibsrtp.Error with libsrtp's message
    raise pylibsrtp.Error(f"libsrtp error {rc}")  # pragma: no cover - _srtp_assert always raises here


class _Direct:
    __slots__ = ("_buffer", "_cells", "_length", "_session", "_srtp")

    def __init__(self, session: pylibsrtp.Session) -> None:
        self._session = session  # keeps the srtp_t alive
        self._srtp: Any = session._srtp[0]
        self._cells: Any = ffi.new("char[]", MAX_PACKET + _TRAILER)
        self._buffer: Any = ffi.buffer(self._cells)
        self._length: Any = ffi.new("int *")


class Protector(_Direct):
    """SRTP protect for one sending session."""

    __slots__ = ()

    def protect(self, header: bytes, extensions: bytes, payload: Any) -> bytes:
        """The protected packet made of `header + extensions + payload` (payload: bytes or memoryview)."""
        size_header, size_ext = len(header), len(extensions)
        size = size_header + size_ext + len(payload)
        if size > MAX_PACKET:
            raise ValueError("packet is too long")
        buffer = self._buffer
        buffer[0:size_header] = header
        if size_ext:
            buffer[size_header:size_header + size_ext] = extensions
        buffer[size_header + size_ext:size] = payload
        length = self._length
        length[0] = size
        rc = lib.srtp_protect(self._srtp, self._cells, length)
        if rc:
            raise_error(rc)
        result: bytes = buffer[0:length[0]]
        return result


class Unprotector(_Direct):
    """SRTP unprotect for one receiving session."""

    __slots__ = ()

    def unprotect(self, data: bytes) -> bytes:
        size = len(data)
        if size > MAX_PACKET:
            raise ValueError("packet is too long")
        self._buffer[0:size] = data
        length = self._length
        length[0] = size
        rc = lib.srtp_unprotect(self._srtp, self._cells, length)
        if rc:
            raise_error(rc)
        result: bytes = self._buffer[0:length[0]]
        return result


def check_contract() -> list[str]:
    """What changed in pylibsrtp that this relies on (empty when nothing did)."""
    problems = []
    if lib is None or ffi is None:
        return ["pylibsrtp._binding (ffi, lib) is gone"]
    for name in ("srtp_protect", "srtp_unprotect"):
        if not hasattr(lib, name):
            problems.append(f"pylibsrtp._binding.lib.{name} is gone")
    if not callable(getattr(pylibsrtp, "_srtp_assert", None)):
        problems.append("pylibsrtp._srtp_assert is gone")
    if "self._srtp = ffi.gc(srtp" not in _source(pylibsrtp.Session.__init__):
        problems.append("pylibsrtp.Session no longer keeps its srtp_t in _srtp")
    return problems


def _source(function: Any) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
