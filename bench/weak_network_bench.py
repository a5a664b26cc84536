"""Calls on weak mobile networks (issue 25): the citizen's Chromium behind the user-space
link emulator (tests/linkemu.py: delay, jitter, loss, a rate limit with a 300 ms queue,
outage), the agent's Chromium unshaped, a real portal and engine; per profile of the
issue's table, `getStats` every second on both sides.

Printed per profile and per side (what the citizen receives / what the agent receives
from the citizen): frames per second, resolution, time frozen, audio concealment; the
publishers' target video bitrates (Chromium's own estimate at work); the link level each
indicator shows. Then a 5 s outage: how long after the link is back audio and video flow
again, and how soon the citizen's indicator said "poor". The clean profile is the
baseline measured in the same run.

Each profile (and the outage) has its own new call, 20 s on a clean link first (--warmup):
a call under way meets the bad network, whatever the profile before it left behind.
--sequence runs them all in one call instead, one after the other (the transitions).

    sudo .venv/bin/python bench/weak_network_bench.py [--seconds 40] [--only 'clean;10% loss;outage'] [--sequence]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.speech_like import write_wav  # noqa: E402
from tests.e2e import harness, steps  # noqa: E402
from tests.linkemu import Profile, Shape, emulated_link  # noqa: E402

PROFILES: dict[str, Profile] = {
    "clean": Profile(),
    "jitter ±10 ms": Profile.both(delay_ms=40, jitter_ms=10),
    "3% loss, 40 ± 10 ms": Profile.both(delay_ms=40, jitter_ms=10, loss=0.03),
    "10% loss, 80 ms": Profile.both(delay_ms=80, loss=0.10),
    "downlink 400 kbit/s": Profile(down=Shape(rate_kbps=400)),
    "uplink 300 kbit/s": Profile(up=Shape(rate_kbps=300)),
}
OUTAGE_S = 5.0

# Counters of one page's connection (summed over streams), with the time of the reading.
COUNTERS = """async () => {
  const pc = window.gvDebug.pc;
  const o = { at: Date.now(), frames: 0, frozen: 0, freezes: 0, width: 0, height: 0, vPackets: 0, aPackets: 0,
    concealed: 0, silent: 0, samples: 0, jbDelay: 0, jbEmitted: 0, target: 0, level: null,
    nackSent: 0, pliSent: 0, vLost: 0, keyDecoded: 0, dropped: 0, rtxReceived: 0, vFecReceived: 0, vFecDiscarded: 0,
    nackReceived: 0, pliReceived: 0, keyEncoded: 0, rtxSent: 0, encoded: 0, vReceivedFrames: 0, vSent: 0,
    vjbDelay: 0, vjbEmitted: 0, vjbTarget: 0, rtt: 0, aCodecIn: "", aCodecOut: "", fecReceived: 0, fecDiscarded: 0,
    reports: [] };
  if (!pc) return o;
  const stats = await pc.getStats();
  // The server's receiver reports on each stream we send: kind, cumulative loss.
  stats.forEach((r) => {
    if (r.type === "remote-inbound-rtp") o.reports.push(`${r.kind[0]}${r.packetsLost}`);
  });
  const mime = (id) => (stats.get(id)?.mimeType ?? "?").replace("audio/", "");
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") {
      o.frames += r.framesDecoded ?? 0; o.frozen += r.totalFreezesDuration ?? 0; o.vPackets += r.packetsReceived ?? 0;
      o.freezes += r.freezeCount ?? 0;
      o.nackSent += r.nackCount ?? 0; o.pliSent += (r.pliCount ?? 0) + (r.firCount ?? 0);
      o.vLost += r.packetsLost ?? 0; o.keyDecoded += r.keyFramesDecoded ?? 0;
      o.vReceivedFrames += r.framesReceived ?? 0;
      o.dropped += r.framesDropped ?? 0; o.rtxReceived += r.retransmittedPacketsReceived ?? 0;
      o.vFecReceived += r.fecPacketsReceived ?? 0; o.vFecDiscarded += r.fecPacketsDiscarded ?? 0;
      o.vjbDelay += r.jitterBufferDelay ?? 0; o.vjbEmitted += r.jitterBufferEmittedCount ?? 0;
      o.vjbTarget += r.jitterBufferTargetDelay ?? 0;
      if (r.frameWidth) { o.width = r.frameWidth; o.height = r.frameHeight; }
    } else if (r.type === "inbound-rtp" && r.kind === "audio") {
      o.aPackets += r.packetsReceived ?? 0; o.concealed += r.concealedSamples ?? 0;
      o.silent += r.silentConcealedSamples ?? 0;
      o.samples += r.totalSamplesReceived ?? 0; o.jbDelay += r.jitterBufferDelay ?? 0;
      o.jbEmitted += r.jitterBufferEmittedCount ?? 0;
      // RED: redundant blocks received, and those not needed (their frame had come).
      o.fecReceived += r.fecPacketsReceived ?? 0; o.fecDiscarded += r.fecPacketsDiscarded ?? 0;
      if (r.packetsReceived) o.aCodecIn += (o.aCodecIn ? "+" : "") + mime(r.codecId);
    } else if (r.type === "outbound-rtp" && r.kind === "audio") {
      if (r.packetsSent) o.aCodecOut += (o.aCodecOut ? "+" : "") + mime(r.codecId);
    } else if (r.type === "remote-inbound-rtp" && r.kind === "video") {
      o.rtt = Math.max(o.rtt, r.roundTripTime ?? 0);
    } else if (r.type === "outbound-rtp" && r.kind === "video") {
      o.target += r.targetBitrate ?? 0;
      o.nackReceived += r.nackCount ?? 0; o.pliReceived += (r.pliCount ?? 0) + (r.firCount ?? 0);
      o.keyEncoded += r.keyFramesEncoded ?? 0; o.rtxSent += r.retransmittedPacketsSent ?? 0;
      o.encoded += r.framesEncoded ?? 0; o.vSent += r.packetsSent ?? 0;
    }
  });
  // A page without link readings (the baseline: bench/weak_network_baseline.sh) has its badge only.
  const history = window.gvDebug.linkHistory?.() ?? [];
  const reading = history.at(-1);
  const badge = document.querySelector("#gv-quality")?.dataset.level;
  o.level = reading?.level ?? (badge && badge !== "unknown" ? badge : null);
  const pct = (x) => (x == null ? "-" : Math.round(100 * x));
  const w = reading?.windowLoss;
  // "severe" with the 3 s loss each way (down/up, %) that judged it.
  const severe = reading?.severe ? `severe(${pct(w?.down)}/${pct(w?.up)}) ` : "";
  o.why = reading ? `${severe}${(reading.reasons ?? []).join("+")}` : "";
  o.window = w ? `${pct(w.down)}/${pct(w.up)}` : "-";
  // The policy's rule when the page switched itself to audio only (linkquality.js LinkPolicy).
  o.switched = history.findLast((r) => r.switched)?.switched ?? null;
  o.playoutMs = window.gvDebug.playout?.ms ?? null;
  o.audioBest = window.gvDebug.playout?.audioBest ?? null;
  o.audioOnly = document.querySelector("#gv-call .gv-audio-only")?.getAttribute("aria-pressed") === "true";
  return o;
}"""
# --compare-playout: the pages' video-buffer rule (rooms/static/rooms/js/playout.js) off or on.
SET_PLAYOUT = "(on) => { if (window.gvDebug.playout) window.gvDebug.playout.enabled = on; }"
TUNE_PLAYOUT = "(settings) => window.gvDebug.playout?.tune(settings)"
TILE_LINK = "(pid) => document.querySelector(`figure[data-pid='${pid}'] .gv-tile__link`)?.dataset.level ?? null"


DETAIL = ("vPackets", "vReceivedFrames", "frames", "vLost", "nackSent", "rtxReceived", "vFecReceived",
          "vFecDiscarded", "pliSent", "keyDecoded",
          "dropped", "nackReceived", "rtxSent", "pliReceived", "keyEncoded", "encoded", "vSent")


def sample(page) -> dict:
    return page.evaluate(COUNTERS)


def summary(first: dict, last: dict, samples: list[dict]) -> dict:
    seconds = max(0.001, (last["at"] - first["at"]) / 1000)
    samples_got = last["samples"] - first["samples"]
    emitted = last["jbEmitted"] - first["jbEmitted"]
    return {
        "fps": (last["frames"] - first["frames"]) / seconds,
        "size": f"{last['width']}x{last['height']}",
        "frozen": last["frozen"] - first["frozen"],
        "concealment": 100 * (last["concealed"] - first["concealed"]) / samples_got if samples_got else None,
        # What could be heard: concealment of silence (pauses, DTX) is not.
        "audible": 100 * (last["concealed"] - last["silent"] - first["concealed"] + first["silent"]) / samples_got
        if samples_got else None,
        "audio_delay_ms": 1000 * (last["jbDelay"] - first["jbDelay"]) / emitted if emitted else None,
        "target_kbps": statistics.median(s["target"] for s in samples) / 1000,
        "levels": sorted({s["level"] for s in samples if s["level"]}),
        "audio_only": any(s["audioOnly"] for s in samples),
        # Video repair, over the whole profile: what this side's receiver asked and lost,
        # and what its sender was asked and sent again.
        "repair": {key: last[key] - first[key] for key in DETAIL},
        "video_jb_ms": 1000 * (last["vjbDelay"] - first["vjbDelay"]) / max(1, last["vjbEmitted"] - first["vjbEmitted"]),
        "rtt_ms": 1000 * statistics.median(s["rtt"] for s in samples),
        "playout_ms": last["playoutMs"],
        "audio_best_ms": last["audioBest"],
        "audio_codecs": f"in {last['aCodecIn'] or '-'}, out {last['aCodecOut'] or '-'}",
        "fec_used": last["fecReceived"] - first["fecReceived"] - last["fecDiscarded"] + first["fecDiscarded"],
        "fec_received": last["fecReceived"] - first["fecReceived"],
        "audio_packets": last["aPackets"] - first["aPackets"],
        "target_series": [round(s["target"] / 1000) for s in samples],
        # The pages' video-buffer target (playout.js), the time frozen and the video jitter
        # buffer, each second.
        "playout_series": [s["playoutMs"] for s in samples],
        "window_series": [s["window"] for s in samples],
        "reports_series": [",".join(s["reports"]) or "-" for s in samples],
        "frozen_series": [round(b["frozen"] - a["frozen"], 2) for a, b in itertools.pairwise(samples)],
        "video_jb_series": [round(1000 * (b["vjbDelay"] - a["vjbDelay"]) / (b["vjbEmitted"] - a["vjbEmitted"]))
                            if b["vjbEmitted"] > a["vjbEmitted"] else None for a, b in itertools.pairwise(samples)],
        # Chromium's own target for it (jitterBufferTargetDelay: the page's target, the engine's
        # playout delay and lip sync's, whichever is largest, or its jitter estimate).
        "video_jb_target_series": [round(1000 * (b["vjbTarget"] - a["vjbTarget"]) / (b["vjbEmitted"] - a["vjbEmitted"]))
                                   if b["vjbEmitted"] > a["vjbEmitted"] else None
                                   for a, b in itertools.pairwise(samples)],
        # The audio jitter buffer over each second (ms), to see when it grew.
        "audio_delay_series": [round(1000 * (b["jbDelay"] - a["jbDelay"]) / (b["jbEmitted"] - a["jbEmitted"]))
                               if b["jbEmitted"] > a["jbEmitted"] else None for a, b in itertools.pairwise(samples)],
    }


def run_profile(emulator, agent_page, citizen, citizen_pid: str, profile: Profile, seconds: float,
                playout: bool = True) -> dict:
    pages = {"citizen": citizen, "agent": agent_page}
    for page in pages.values():
        page.evaluate(SET_PLAYOUT, playout)
    at_set = {name: sample(page) for name, page in pages.items()}
    emulator.set_profile(profile)
    time.sleep(3)  # the estimators see the new link before we count
    series: dict[str, list[dict]] = {name: [sample(page)] for name, page in pages.items()}
    agent_view: set[str] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1)
        for name, page in pages.items():
            series[name].append(sample(page))
        agent_view.add(agent_page.evaluate(TILE_LINK, citizen_pid) or "-")
    out = {name: summary(s[0], s[-1], s) for name, s in series.items()}
    # Video from the profile's start (the 3 s above included) until the citizen's page
    # switched itself to audio only (its video then stops both ways): seconds of video,
    # freezes and time frozen in them (a freeze counts once it ended), each side.
    switched = next((i for i, s in enumerate(series["citizen"]) if s["audioOnly"]), None)
    for name, s in series.items():
        last = s[switched if switched is not None else -1]
        out[name]["video_s"] = (last["at"] - at_set[name]["at"]) / 1000
        out[name]["frozen_before"] = last["frozen"] - at_set[name]["frozen"]
        out[name]["freezes_before"] = last["freezes"] - at_set[name]["freezes"]
        # Video packets this side received, and the other side sent, in that time.
        other = series["agent" if name == "citizen" else "citizen"]
        out[name]["packets_before"] = (last["vPackets"] - at_set[name]["vPackets"],
                                       other[switched if switched is not None else -1]["vSent"]
                                       - at_set["agent" if name == "citizen" else "citizen"]["vSent"])
        emitted = last["jbEmitted"] - at_set[name]["jbEmitted"]
        out[name]["audio_delay_before"] = 1000 * (last["jbDelay"] - at_set[name]["jbDelay"]) / max(1, emitted)
        end = switched if switched is not None else len(s) - 1
        out[name]["why"] = " | ".join(x["why"] or "-" for x in s[max(0, end - 12):end + 1])
        out[name]["rule"] = next((x["switched"] for x in s[end:] if x["switched"]), None)
    out["agent_view"] = sorted(agent_view)
    # The next profile starts with video: one tap back where the page switched itself.
    for page in pages.values():
        if page.get_attribute("#gv-call .gv-audio-only", "aria-pressed") == "true":
            page.click("#gv-call .gv-audio-only")
    return out


def wait_flowing(pages: dict, keys: tuple[str, ...], since: float, cap: float = 20.0) -> dict[str, float | None]:
    """Seconds from `since` until each counter (`key` of each page) moves, all polled
    together (about every 50 ms): one after the other, a counter polled late would count
    the wait for the ones before it (a new peer connection counts from 0 again)."""
    before = {name: sample(page) for name, page in pages.items()}
    out: dict[str, float | None] = {f"{name}_{key}": None for name in pages for key in keys}
    while time.monotonic() - since < cap and None in out.values():
        time.sleep(0.05)
        for name, page in pages.items():
            now = sample(page)
            for key in keys:
                if out[f"{name}_{key}"] is None and now[key] != before[name][key]:
                    out[f"{name}_{key}"] = time.monotonic() - since
    return out


def run_outage(emulator, agent_page, citizen, citizen_pid: str) -> dict:
    emulator.set_profile(Profile())
    time.sleep(5)
    emulator.set_profile(Profile().with_outage(True))
    began = time.monotonic()
    poor_after = None
    while time.monotonic() - began < OUTAGE_S:
        if poor_after is None and sample(citizen)["level"] == "poor":
            poor_after = time.monotonic() - began
        time.sleep(0.05)
    emulator.set_profile(Profile())
    back = time.monotonic()
    flowing = wait_flowing({"citizen": citizen, "agent": agent_page}, ("aPackets", "frames"), back)
    out: dict[str, float | None] = {"poor_after": poor_after}
    for name in ("citizen", "agent"):
        out[f"{name}_audio"] = flowing[f"{name}_aPackets"]
        out[f"{name}_video"] = flowing[f"{name}_frames"]
    return out


def fmt(value: float | None, pattern: str = "{:.1f}") -> str:
    return "—" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--only", default="", help="';'-separated starts of profile names (and/or 'outage')")
    parser.add_argument("--audio", choices=("speech", "beep"), default="speech",
                        help="the fake microphones: a speech-like signal (bench/speech_like.py) or Chromium's beep")
    parser.add_argument("--no-red", action="store_true",
                        help="the engine negotiates no RED for audio (MEDIA_AUDIO_RED=0): what RED brings")
    parser.add_argument("--no-video-fec", action="store_true",
                        help="the engine negotiates no video RED/ULPFEC (MEDIA_VIDEO_FEC=0): what FEC brings")
    parser.add_argument("--no-playout-hint", action="store_true",
                        help="the engine negotiates no playout-delay extension (MEDIA_PLAYOUT_HINT=0): what its "
                             "hint to a lossy publisher's viewers brings")
    parser.add_argument("--no-repair-repeat", action="store_true",
                        help="NACKs and retransmissions go once on a lossy hop (MEDIA_REPAIR_REPEAT=0): what "
                             "sending them twice brings")
    parser.add_argument("--tune", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting of the pages' video-buffer rule (playout.js PLAYOUT), on both pages: "
                             "variants, e.g. --tune audioBudgetMs=250")
    parser.add_argument("--sequence", action="store_true",
                        help="all profiles in one call, each right after the other (what one profile leaves "
                             "to the next: the estimators, the video buffer's target); by default each profile "
                             "has a new call that ran --warmup seconds on a clean link first")
    parser.add_argument("--warmup", type=float, default=20,
                        help="seconds on a clean link before a new call's profile (default 20)")
    parser.add_argument("--compare-playout", action="store_true",
                        help="each profile twice: the pages' video-buffer rule off, then on (playout.js)")
    args = parser.parse_args()
    # Profile names hold commas: the choice is by the start of each name, ';' between.
    only = [token.strip() for token in args.only.split(";") if token.strip()]
    chosen = [name for name in PROFILES if not only or any(name.startswith(token) for token in only)]
    folder = harness.bench_environment()
    from playwright.sync_api import sync_playwright

    with emulated_link(Profile(), seed=25) as (space, emulator), harness.running_server(
        folder / "bench.sqlite3", folder, host=space.host_ip,
        extra_env={"ALLOWED_HOSTS": space.host_ip, "GV_TEST_LOOPBACK_ICE": "0", "ICE_SERVERS": "[]",
                   "MEDIA_AUDIO_RED": "0" if args.no_red else "1",
                   "MEDIA_VIDEO_FEC": "0" if args.no_video_fec else "1",
                   "MEDIA_PLAYOUT_HINT": "0" if args.no_playout_hint else "1",
                   "MEDIA_REPAIR_REPEAT": "0" if args.no_repair_repeat else "1"},
    ) as server, sync_playwright() as driver:
        secure = f"--unsafely-treat-insecure-origin-as-secure={server.base}"
        voice: tuple[str, ...] = ()
        if args.audio == "speech":
            voice = (f"--use-file-for-fake-audio-capture={write_wav(folder / 'speech.wav')}",)
        tuned = {name: float(value) for name, value in (item.split("=", 1) for item in args.tune)}

        @contextlib.contextmanager
        def call(number: int) -> Iterator[tuple[object, object, str]]:
            """A new appointment and both browsers in it: (agent's page, citizen's page, citizen's pid)."""
            emulator.set_profile(Profile())
            agent, room = harness.make_appointment()
            agent_context = harness.launch(driver, folder / f"agent-{number}", extra_args=(secure, *voice))
            citizen_context = harness.launch(driver, folder / f"citizen-{number}", extra_args=(secure, *voice),
                                             executable=space.wrapper(folder, harness.CHROMIUM))
            try:
                agent_page = agent_context.pages[0] if agent_context.pages else agent_context.new_page()
                citizen = citizen_context.pages[0] if citizen_context.pages else citizen_context.new_page()
                for page in (agent_page, citizen):
                    page.gv_errors = []
                _, citizen_pid = steps.meet(agent_page, citizen, server.base, agent, room)
                if tuned:
                    for page in (agent_page, citizen):
                        page.evaluate(TUNE_PLAYOUT, tuned)
                if args.warmup:
                    time.sleep(args.warmup)  # a call under way: the estimators ramped up on the clean link
                yield agent_page, citizen, citizen_pid
            finally:
                citizen_context.close()
                agent_context.close()

        print(f"{args.seconds:.0f} s per profile, "
              + ("all in one call, one after the other" if args.sequence
                 else f"each in a new call after {args.warmup:.0f} s on a clean link")
              + f"; citizen behind the emulator, agent unshaped; microphones: {args.audio}; "
              f"RED {'off' if args.no_red else 'on'}; "
              f"playout hint {'off' if args.no_playout_hint else 'on'}; "
              f"video-buffer rule {', '.join(args.tune) or 'as shipped'}.")
        print(f"{'profile':22} {'side':8} {'fps':>5} {'size':>8} {'frozen s':>8} {'conceal %':>9} {'audible %':>9} "
              f"{'audio jb ms':>11} {'target kbit/s':>13} {'auto audio':>10}  levels (agent's view of the citizen)")
        results = {}
        runs = [(name, on) for name in chosen for on in ((False, True) if args.compare_playout else (True,))]
        with contextlib.ExitStack() as one_call:
            shared = one_call.enter_context(call(0)) if args.sequence else None
            for number, (name, on) in enumerate(runs, start=1):
                with contextlib.ExitStack() as own:
                    agent_page, citizen, citizen_pid = shared or own.enter_context(call(number))
                    results[name] = run_profile(emulator, agent_page, citizen, citizen_pid,
                                                PROFILES[name], args.seconds, on)
                report(name, results[name], args, on)
            if not only or "outage" in only:
                with contextlib.ExitStack() as own:
                    agent_page, citizen, citizen_pid = shared or own.enter_context(call(len(runs) + 1))
                    o = run_outage(emulator, agent_page, citizen, citizen_pid)
                print(f"{OUTAGE_S:.0f} s outage: citizen's indicator 'poor' after {fmt(o['poor_after'], '{:.2f}')} s; "
                      f"back after the link returns — citizen receives audio {fmt(o['citizen_audio'], '{:.2f}')} s, "
                      f"video {fmt(o['citizen_video'], '{:.2f}')} s; agent receives audio "
                      f"{fmt(o['agent_audio'], '{:.2f}')} s, video {fmt(o['agent_video'], '{:.2f}')} s")
        if "clean" in results:
            clean = results["clean"]["agent"]["fps"]
            for name, result in results.items():
                print(f"ratio agent's fps vs clean, {name}: {result['agent']['fps'] / max(clean, 0.1):.2f}")
        print("emulator:", emulator.counters)
        time.sleep(2)  # the engine logs what each publication and forward carried as it ends
        for line in server.log.read_text(errors="replace").splitlines():
            if any(part in line for part in ("publication ended", "forward ended", "sends RED", "playout delay")):
                print("engine:", line.strip())


def report(name: str, result: dict, args: argparse.Namespace, on: bool) -> None:
    """One profile's figures, each side."""
    if args.compare_playout:
        print(f"{name}: video-buffer rule {'on' if on else 'off'}", flush=True)
    for side in ("citizen", "agent"):
        r = result[side]
        view = f" ({', '.join(result['agent_view'])})" if side == "agent" else ""
        print(f"{name:22} {side:8} {r['fps']:5.1f} {r['size']:>8} {r['frozen']:8.1f} "
              f"{fmt(r['concealment'], '{:.2f}'):>9} {fmt(r['audible'], '{:.2f}'):>9} "
              f"{fmt(r['audio_delay_ms'], '{:.0f}'):>11} "
              f"{r['target_kbps']:13.0f} {'yes' if r['audio_only'] else 'no':>10}  "
              f"{', '.join(r['levels'])}{view}", flush=True)
        print(f"{'':22} {side:8} video in: " + ", ".join(f"{k} {v}" for k, v in r["repair"].items())
              + f"; video jitter buffer {r['video_jb_ms']:.0f} ms (target {r['playout_ms']}, "
              f"the audio's best {fmt(r['audio_best_ms'], '{:.0f}')} ms), "
              f"own send RTT {r['rtt_ms']:.0f} ms",
              flush=True)
        print(f"{'':22} {side:8} audio codecs {r['audio_codecs']}; {r['audio_packets']} audio packets "
              f"received, {r['fec_received']} redundant blocks (RED/FEC), {r['fec_used']} of them used",
              flush=True)
        print(f"{'':22} {side:8} its video target per second, kbit/s: "
              + " ".join(str(v) for v in r["target_series"]), flush=True)
        print(f"{'':22} {side:8} audio jitter buffer per second, ms: "
              + " ".join(fmt(v, "{:.0f}") for v in r["audio_delay_series"]), flush=True)
        print(f"{'':22} {side:8} video target per second (playout.js), ms: "
              + " ".join(fmt(v, "{:.0f}") for v in r["playout_series"]), flush=True)
        print(f"{'':22} {side:8} video jitter buffer per second, ms: "
              + " ".join(fmt(v, "{:.0f}") for v in r["video_jb_series"]), flush=True)
        print(f"{'':22} {side:8} Chromium's target for it per second, ms: "
              + " ".join(fmt(v, "{:.0f}") for v in r["video_jb_target_series"]), flush=True)
        print(f"{'':22} {side:8} loss over the last 3 s, down/up %, per second: "
              + " ".join(r["window_series"]), flush=True)
        print(f"{'':22} {side:8} the server's reports on what it sends (kind, cumulative packets lost), per second: "
              + " ".join(r["reports_series"]), flush=True)
        print(f"{'':22} {side:8} time frozen per second, s: "
              + " ".join(f"{v:g}" for v in r["frozen_series"]), flush=True)
        if r["video_s"] < args.seconds:
            print(f"{'':22} {side:8} from the profile's start to the switch to audio only: "
                  f"{r['video_s']:.1f} s of video, {r['freezes_before']} freezes, "
                  f"{r['frozen_before']:.1f} s frozen, video packets received "
                  f"{r['packets_before'][0]} of the other side's {r['packets_before'][1]} sent, "
                  f"audio jitter buffer {r['audio_delay_before']:.0f} ms; "
                  f"rule: {r['rule'] or '-'}; readings before it: {r['why']}", flush=True)


if __name__ == "__main__":
    main()
