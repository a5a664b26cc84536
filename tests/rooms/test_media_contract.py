"""A mismatched aiortc/aioice is refused at start, and reaches browsers as media_unavailable.

The subprocess cases start `manage.py` with a sitecustomize module that changes one aiortc
or aioice internal the hook layer relies on, as an upgrade would; the same commands pass
without it.
"""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import aioice.ice
import pytest
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

import portal.asgi  # noqa: F401 - sets up Django's logging now, not under caplog (it would drop caplog's handler)
from tests.rooms.conftest import Client, run

ROOT = Path(__file__).resolve().parents[2]

# aiortc renames the attribute its receiver stores depayloaded bytes in. The changed method
# is compiled from a file beside the shim (its source readable, as an installed aiortc's
# is), inside a class body so its `self.__x` names are mangled as aiortc's are.
RENAMED_PACKET_DATA = """
import os
import aiortc.rtcrtpreceiver as module
path = os.path.join(os.path.dirname(__file__), "changed_receiver.py")
namespace = {}
exec(compile(open(path).read(), path, "exec"), vars(module), namespace)
module.RTCRtpReceiver._handle_rtp_packet = namespace["RTCRtpReceiver"]._handle_rtp_packet
"""
# aioice renames the host address function the loopback-only switch replaces.
RENAMED_HOST_ADDRESSES = """
import aioice.ice
aioice.ice.local_host_addresses = aioice.ice.get_host_addresses
del aioice.ice.get_host_addresses
"""
CHANGES = {
    "aiortc packet._data": (RENAMED_PACKET_DATA, "RTCRtpReceiver._handle_rtp_packet no longer sets packet._data"),
    "aioice get_host_addresses": (RENAMED_HOST_ADDRESSES, "aioice.ice.get_host_addresses is gone or changed"),
}


def changed_receiver() -> str:
    """aiortc 1.16's RTCRtpReceiver._handle_rtp_packet with packet._data renamed, in a class body."""
    source = textwrap.dedent(inspect.getsource(RTCRtpReceiver._handle_rtp_packet))
    assert "packet._data" in source
    return "class RTCRtpReceiver:\n" + textwrap.indent(source.replace("packet._data", "packet._depayloaded"), "    ")


def manage(*args: str, shim: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    if shim is not None:
        (tmp_path / "changed_receiver.py").write_text(changed_receiver())
        (tmp_path / "sitecustomize.py").write_text(textwrap.dedent(shim))
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_manage_py_check_passes_with_the_pinned_aiortc(tmp_path: Path) -> None:
    result = manage("check", shim=None, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rooms.E001" not in result.stdout + result.stderr


@pytest.mark.parametrize(("change", "command"), [("aiortc packet._data", ("check",)),
                                                 ("aioice get_host_addresses", ("check", "--deploy"))])
def test_manage_py_check_fails_on_a_changed_internal(tmp_path: Path, change: str, command: tuple[str, ...]) -> None:
    shim, problem = CHANGES[change]
    result = manage(*command, shim=shim, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "(rooms.E001) aiortc internals changed" in result.stderr, result.stderr
    assert problem in result.stderr


def test_a_media_node_does_not_start_on_a_changed_internal(tmp_path: Path) -> None:
    shim, problem = CHANGES["aiortc packet._data"]
    checked = manage("medianode", "--id", "contract-test", shim=shim, tmp_path=tmp_path)
    assert checked.returncode != 0 and "rooms.E001" in checked.stderr and problem in checked.stderr
    # Without the system checks, the command checks the contract itself before serving.
    unchecked = manage("medianode", "--id", "contract-test", "--skip-checks", shim=shim, tmp_path=tmp_path)
    assert unchecked.returncode != 0
    assert "media engine cannot start" in unchecked.stderr and problem in unchecked.stderr


@pytest.mark.django_db(transaction=True)
def test_a_browser_gets_media_unavailable_and_the_log_an_error(room, moderator, monkeypatch, caplog):
    """The in-process engine on a changed aioice: the offer is answered media_unavailable, not bad_sdp."""
    monkeypatch.delattr(aioice.ice, "get_host_addresses")

    async def scenario() -> dict:
        agent = await Client(room.slug, moderator.pid).connect()
        await agent.greeted()
        pc = RTCPeerConnection()
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        try:
            offer = await pc.createOffer()
            await agent.send({"type": "rtc.offer", "sdp": offer.sdp})
            return await agent.expect("error", timeout=10)
        finally:
            await pc.close()
            await agent.close()

    with caplog.at_level(logging.INFO):
        error = run(scenario())
    assert error["code"] == "media_unavailable" and error["ref"] == "rtc"
    assert "get_host_addresses" in error["message"]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "rooms.mediabridge"]
    assert logged and "media engine cannot start" in logged[0].getMessage()
