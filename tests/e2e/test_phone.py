"""Joining by telephone, end to end: a Twilio-speaking caller (tests/notifications/voice.py)
dials the structure's number on a real Daphne, types the code, opens the Media Stream over a
real WebSocket and speaks a 440 Hz tone in μ-law; the agent, in Chromium with the fake
microphone, admits "Téléphone ··78" from the waiting room. Asserted: the agent's page hears
440 Hz (WebAudio analyser on the phone's track), the phone hears the agent's fake
microphone (its dominant frequency, measured in the agent's page on the track it sends,
found in the decoded μ-law), and hanging up takes the phone out of the call."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
import websockets

from tests.e2e import harness, steps
from tests.e2e.conftest import WAIT
from tests.notifications.servers import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.notifications.voice import RATE, FakeTwilioVoice, MediaSession, dominant_frequency, tone_frames
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
NUMBER = "+33180000000"
AUTOPLAY = ("--autoplay-policy=no-user-gesture-required",)

# The spectrum of a track in the page: its dominant frequency and its level.
ANALYSE = """async ([pid, local]) => {
    const pc = window.gvDebug.pc;
    if (!pc) return null;
    let track = null;
    if (local) {
        track = pc.getSenders().map((s) => s.track).find((t) => t && t.kind === "audio");
    } else {
        const tracks = window.gvDebug.tracks || {};
        const t = pc.getTransceivers().find(
            (x) => tracks[x.mid]?.participant_id === pid && tracks[x.mid]?.kind === "audio");
        track = t && t.receiver.track;
    }
    if (!track) return null;
    const key = local ? "gvLocalAnalyser" : "gvPhoneAnalyser";
    if (!window[key] || window[key].track !== track) {
        const ctx = new AudioContext();
        await ctx.resume();
        const source = ctx.createMediaStreamSource(new MediaStream([track]));
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 8192;
        analyser.smoothingTimeConstant = 0;
        source.connect(analyser);
        window[key] = { ctx, analyser, track };
    }
    const { ctx, analyser } = window[key];
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(spectrum);
    let best = 3;  // above ~20 Hz
    for (let i = 3; i < spectrum.length; i++) if (spectrum[i] > spectrum[best]) best = i;
    const wave = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(wave);
    const rms = Math.sqrt(wave.reduce((a, x) => a + x * x, 0) / wave.length);
    return { freq: best * ctx.sampleRate / analyser.fftSize, rms, state: ctx.state };
}"""


@pytest.fixture(scope="module")
def twilio_api():
    """Twilio's REST API (calls.create for dial-out), local."""
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def server(e2e_db, tmp_path_factory, twilio_api):
    """The portal with Twilio's credentials (the caller's signatures check out) and API."""
    env = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE_URL": twilio_api.url}
    with harness.running_server(e2e_db, tmp_path_factory.mktemp("phone-server"), extra_env=env) as live:
        yield live


class Phone(threading.Thread):
    """The caller's Media Stream, in real time: 20 ms of 440 Hz every 20 ms, what comes back kept."""

    def __init__(self, url: str, call) -> None:
        super().__init__(daemon=True)
        self.url, self.call = url, call
        self.session: MediaSession | None = None
        self.hang_up = threading.Event()
        self.closed = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # noqa: BLE001 - reported to the test
            self.error = error
        finally:
            self.closed.set()

    async def _main(self) -> None:
        async with websockets.connect(self.url) as ws:
            session = self.session = MediaSession(send=ws.send, call_sid=self.call.sid)
            await session.connected()
            await session.start(self.call.parameters)

            async def listen() -> None:
                async for message in ws:
                    await session.heard(message)

            listener = asyncio.create_task(listen())
            frames = tone_frames(440, 1.0)
            loop = asyncio.get_running_loop()
            due, n = loop.time(), 0
            while not self.hang_up.is_set() and not listener.done():
                await session.media(frames[n % len(frames)])
                n += 1
                due += 0.02
                await asyncio.sleep(max(0, due - loop.time()))
            if not listener.done():
                await session.stop()
                await asyncio.wait_for(listener, 5)

    def received(self) -> np.ndarray:
        assert self.session is not None
        return self.session.audio()


def loud_windows_frequency(samples: np.ndarray, window: int = RATE // 10) -> float:
    """The dominant frequency over the loudest windows (the fake microphone beeps)."""
    chunks = [samples[i:i + window] for i in range(0, len(samples) - window, window)]
    levels = np.array([np.sqrt(np.mean(c.astype(np.float64) ** 2)) for c in chunks])
    if not len(chunks) or levels.max() < 100:
        return 0.0
    loud = np.concatenate([c for c, level in zip(chunks, levels, strict=True) if level > levels.max() / 2])
    return dominant_frequency(loud)


def test_a_phone_dials_in_waits_is_admitted_and_both_sides_hear_each_other(server, booked, browsers,
                                                                              django_db_blocker):
    agent, room = booked
    with django_db_blocker.unblock():
        structure = room.appointment.structure
        structure.voice_number = NUMBER
        structure.save()
        password = room.password
    base = server.base
    agent_page = browsers.open("agent", extra_args=AUTOPLAY)
    steps.agent_enters(agent_page, base, agent, room)

    def post(url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"X-Twilio-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  (our test server)
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    twilio = FakeTwilioVoice(post=post, voice_url=f"{base}/phone/voice/")
    # A forged call first: 403, nobody waits.
    forged = twilio.dial(NUMBER, digits=[password], sign=False)
    assert forged.statuses == [403]
    call = twilio.dial(NUMBER, caller="+33612345678", digits=[password])
    assert call.stream_url == base.replace("http://", "ws://") + "/ws/phone/stream/"
    phone = Phone(call.stream_url, call)
    phone.start()
    try:
        # The phone waits as "Téléphone ··78"; it hears the waiting chime meanwhile.
        agent_page.wait_for_selector("#gv-waiting:not([hidden])", timeout=WAIT)
        if agent_page.get_attribute("#gv-btn-people", "aria-expanded") != "true":
            agent_page.click("#gv-btn-people")
        item = agent_page.wait_for_selector("#gv-lobby-list li:has-text('Téléphone ··78')", timeout=WAIT)
        phone_pid = item.get_attribute("data-pid")
        assert "au téléphone" in item.text_content()
        # The agent knows who it is: renamed from the waiting list.
        agent_page.once("dialog", lambda dialog: dialog.accept("Mme Dupont"))
        agent_page.click(f"#gv-lobby-list li[data-pid='{phone_pid}'] [data-act='mod.rename']")
        agent_page.wait_for_selector(f"#gv-lobby-list li[data-pid='{phone_pid}']:has-text('Mme Dupont')",
                                     timeout=WAIT)
        wait_until(lambda: phone.session is not None and phone.session.media_messages > 25, 10,
                   what="the waiting chime")
        steps.admit(agent_page, phone_pid)
        wait_until(lambda: phone.session is not None and phone.session.clears >= 1, 10, what="the chime cleared")
        admitted_at = len(phone.session.received) if phone.session else 0

        # The agent's page hears the phone: energy, and 440 Hz.
        handle = agent_page.wait_for_function(
            f"""([pid]) => {{ ({ANALYSE})([pid, false]).then((r) => {{ window.gvPhoneHeard = r; }});
                 const r = window.gvPhoneHeard; return r && r.rms > 0.05 && r; }}""",
            arg=[phone_pid], timeout=WAIT, polling=250)
        heard = handle.json_value()
        assert abs(heard["freq"] - 440) <= 20, heard

        # The phone hears the agent's fake microphone: the frequency the page sends, read while
        # its beep sounds (its level is ~0.15; at 0.01 a beep's tail once read as 59 Hz, and a
        # window half in the beep at 0.087 as 479 Hz for 400): two readings in a row that agree.
        handle = agent_page.wait_for_function(
            f"""() => {{ ({ANALYSE})([null, true]).then((r) => {{
                     window.gvMinePrev = window.gvMine; window.gvMine = r; }});
                 const r = window.gvMine, p = window.gvMinePrev;
                 return r && p && r.rms > 0.05 && p.rms > 0.05 && Math.abs(r.freq - p.freq) <= 5 && r; }}""",
            timeout=WAIT, polling=100)
        mine = handle.json_value()
        wait_until(lambda: len(phone.session.received) - admitted_at > 3 * RATE, 15, what="3 s of the room")
        got = loud_windows_frequency(phone.received()[admitted_at:])
        print(f"page hears the phone: {heard}; page sends: {mine}; phone hears: {got:.1f} Hz")
        assert abs(got - mine["freq"]) <= 20, (got, mine)

        # Hanging up: out of the call on the agent's page.
        phone.hang_up.set()
        assert phone.closed.wait(10) and phone.error is None, phone.error
        agent_page.wait_for_function("(pid) => !window.gvDebug.people().some((p) => p.pid === pid)",
                                     arg=phone_pid, timeout=WAIT)
    finally:
        phone.hang_up.set()
        phone.join(10)


def test_the_agent_calls_the_citizen_into_the_room(server, booked, browsers, django_db_blocker, twilio_api):
    """Dial-out: "Appeler l'usager" → Twilio's Calls API; the answered call streams into the
    room, the citizen is in the call at once and heard; the agent sees the status."""
    import xml.etree.ElementTree as ET

    from tests.notifications.voice import Call

    agent, room = booked
    with django_db_blocker.unblock():
        structure = room.appointment.structure
        structure.voice_number, structure.voice_dial_out = NUMBER, True
        structure.save()
    agent_page = browsers.open("agent", extra_args=AUTOPLAY)
    steps.agent_enters(agent_page, server.base, agent, room)
    agent_page.click("#gv-btn-info")
    agent_page.click("#gv-call-citizen")
    agent_page.wait_for_function(
        "() => document.getElementById('gv-call-status').textContent.includes('··78')", timeout=WAIT)
    assert "appel en cours" in agent_page.text_content("#gv-call-status")
    wait_until(lambda: len(twilio_api.calls) == 1, 10, what="the call placed")
    placed = twilio_api.calls[0]
    assert placed.to == "+33612345678" and placed.sender == NUMBER
    stream = ET.fromstring(placed.twiml).find("Connect/Stream")  # noqa: S314  (ours)
    assert stream is not None
    call = Call(sid=placed.sid, stream_url=stream.get("url", ""),
                parameters={p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")})
    phone = Phone(call.stream_url, call)
    phone.start()
    try:
        # Already invited: in the call without the waiting room, heard at 440 Hz.
        agent_page.wait_for_function(
            "() => window.gvDebug.people().some((p) => p.name === 'Téléphone ··78')", timeout=WAIT)
        phone_pid = agent_page.evaluate(
            "() => window.gvDebug.people().find((p) => p.name === 'Téléphone ··78').pid")
        handle = agent_page.wait_for_function(
            f"""([pid]) => {{ ({ANALYSE})([pid, false]).then((r) => {{ window.gvPhoneHeard = r; }});
                 const r = window.gvPhoneHeard; return r && r.rms > 0.05 && r; }}""",
            arg=[phone_pid], timeout=WAIT, polling=250)
        assert abs(handle.json_value()["freq"] - 440) <= 20
    finally:
        phone.hang_up.set()
        phone.join(10)
