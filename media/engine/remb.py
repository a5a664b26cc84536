"""A lighter server-side REMB estimator for passthrough video receivers.

aiortc 1.16's `RemoteBitrateEstimator` (aiortc/rate.py, a port of libwebrtc's single-stream
delay-based estimator) runs on every video packet with an abs-send-time extension. Profiled
on the bench server it cost more per packet than SRTP and RTP parsing together, because:

- its throughput counter keeps 1 ms buckets, walked for every elapsed millisecond;
- `OveruseEstimator.update_min_frame_period` scans a 60-entry Python list per packet group;
- while the detector says "overusing" it updates the rate controller and sends a REMB on
  EVERY packet (libwebrtc waits one RTT, at most 200 ms, between reductions).

`LightBitrateEstimator` keeps the algorithm: the same inter-arrival grouping (5 ms of send
time, bursts merged), the same Kalman `OveruseEstimator`, `OveruseDetector` and
`AimdRateControl` objects from aiortc.rate. Only the bookkeeping is cheaper: per packet a
few integer operations in one call; the throughput is summed per packet group over a 1 s
window; the rate controller runs (and a REMB goes out) at most every 500 ms, or every
200 ms while overusing. Audio receivers have no estimator (as in aiortc): the REMB covers
the publisher's video SSRCs, which is what browsers use it for.

Made robust to jitter (issue 25): the delay-based detector reads ±10 ms of jitter on a
mobile link as a building queue and cut the REMB to 33-95 kbit/s where the link carried
500. What the engine reports is therefore smoothed on the way down (each update moves
`decrease_weight` of the way to a lower estimate; increases pass at once) and never below
`floor_bps`. That is safe: Chromium's send-side estimate is the minimum of its own
loss-based estimate and the REMB, so on a link that really is slower, loss still brings
the sender down; the REMB only stops a false alarm from starving the picture.

This is the reference: the compiled packet core (packet_core.py, `gv_remb_add` in
packet_core.c) does the packet groups, the filter and the detector in C and leaves Python
only the rate control, twice a second: 0.6 against 2.7 µs per video packet here (the filter
runs per frame: 15% of the bench server's busy samples at 10 appointments). The tests
compare both, their whole state after every packet.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from aiortc.rate import (
    INTER_ARRIVAL_SHIFT,
    MIN_FRAME_PERIOD_HISTORY_LENGTH,
    TIMESTAMP_GROUP_LENGTH_MS,
    AimdRateControl,
    BandwidthUsage,
    OveruseDetector,
    OveruseEstimator,
)

_MASK = 0xFFFFFFFF
_HALF = 0x80000000
_TIMESTAMP_TO_MS = 1000.0 / (1 << INTER_ARRIVAL_SHIFT)
GROUP_LENGTH = (TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) // 1000
BURST_DELTA_MS = 5
WINDOW_MS = 1000  # throughput window, as aiortc's RateCounter(1000)
FEEDBACK_INTERVAL_MS = 500  # AimdRateControl.feedback_interval() in aiortc
REDUCE_INTERVAL_MS = 200  # libwebrtc's TimeToReduceFurther with aiortc's default 200 ms RTT
FLOOR_BPS = 250_000  # 320x240-480x360 VP8 at 15-20 fps: the least a jittery link is told
DECREASE_WEIGHT = 0.3  # share of a decrease applied per update (about 1 s to follow a real one)


class _OveruseEstimator(OveruseEstimator):
    """aiortc's Kalman filter; the minimum frame period from a bounded deque (C-level min)."""

    def __init__(self) -> None:
        super().__init__()
        self._history: deque[float] = deque(maxlen=MIN_FRAME_PERIOD_HISTORY_LENGTH)

    def update_min_frame_period(self, ts_delta: float) -> float:
        # Same result as aiortc's: the minimum of this delta and the previous 59.
        self._history.append(ts_delta)
        return min(self._history)


class LightBitrateEstimator:
    """Drop-in for aiortc's RemoteBitrateEstimator: same `add()` call and return value."""

    def __init__(
        self, *, feedback_interval_ms: int = FEEDBACK_INTERVAL_MS, reduce_interval_ms: int = REDUCE_INTERVAL_MS,
        floor_bps: int = FLOOR_BPS, decrease_weight: float = DECREASE_WEIGHT,
    ) -> None:
        self.estimator = _OveruseEstimator()
        self.detector = OveruseDetector()
        self.rate_control = AimdRateControl()
        self.feedback_interval_ms = feedback_interval_ms
        self.reduce_interval_ms = reduce_interval_ms
        self.ssrcs: dict[int, int] = {}  # ssrc -> last arrival, listed in every REMB
        self.updates = 0  # REMB values produced (for tests and stats)
        self.floor_bps = floor_bps
        self.decrease_weight = decrease_weight
        self._reported: int | None = None  # the last REMB value sent
        # Current packet group: first and last send time (abs-send-time << 8), arrival, bytes.
        self._started = False
        self._first = self._last = self._arrival = self._size = 0
        self._previous: tuple[int, int, int] | None = None  # (last send time, arrival, bytes)
        self._overusing = False
        # Throughput: bytes since the last closed group (from `_pending_first` on), the closed
        # groups of the window as (first arrival, bytes), and when counting (re)started.
        self._pending = 0
        self._pending_first = 0
        self._groups: deque[tuple[int, int]] = deque()
        self._window_bytes = 0
        self._origin = 0
        self._last_update_ms: int | None = None

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        # The reference for packet_core's compiled add (gv_remb_add): keep both in step.
        timestamp = abs_send_time << 8
        self.ssrcs[ssrc] = arrival_time_ms
        if not self._started:
            self._started = True
            self._first = self._last = timestamp
            self._origin = arrival_time_ms
        elif arrival_time_ms - self._arrival > WINDOW_MS:
            # A silence longer than the window: measure the throughput from here.
            self._forget_groups()
            self._pending = 0
            self._origin = arrival_time_ms

        if (timestamp - self._first) & _MASK < _HALF:  # else out of order: not part of any group
            since_last = (timestamp - self._last) & _MASK
            since_last_ms = round(since_last * _TIMESTAMP_TO_MS)
            arrival_delta = arrival_time_ms - self._arrival
            burst = since_last_ms == 0 or (arrival_delta < since_last_ms and arrival_delta <= BURST_DELTA_MS)
            if not burst and (timestamp - self._first) & _MASK > GROUP_LENGTH:
                self._close_group(arrival_time_ms)
                self._first = self._last = timestamp
                self._size = 0
            elif 0 < since_last < _HALF:
                self._last = timestamp
            self._size += payload_size
            self._arrival = arrival_time_ms
        if not self._pending:
            self._pending_first = arrival_time_ms
        self._pending += payload_size

        last = self._last_update_ms
        if (
            last is None
            or arrival_time_ms - last > self.feedback_interval_ms
            or (self._overusing and arrival_time_ms - last >= self.reduce_interval_ms)
        ):
            return self._update(arrival_time_ms)
        return None

    def _forget_groups(self) -> None:
        self._groups.clear()
        self._window_bytes = 0

    def _close_group(self, now_ms: int) -> None:
        previous = self._previous
        if previous is not None:
            ts_delta_ms = ((self._last - previous[0]) & _MASK) * _TIMESTAMP_TO_MS
            self.estimator.update(
                self._arrival - previous[1], ts_delta_ms, self._size - previous[2], self.detector.state(), now_ms
            )
            usage = self.detector.detect(
                self.estimator.offset(), ts_delta_ms, self.estimator.num_of_deltas(), now_ms
            )
            self._overusing = usage == BandwidthUsage.OVERUSING
        self._previous = (self._last, self._arrival, self._size)
        self._groups.append((self._pending_first, self._pending))
        self._window_bytes += self._pending
        self._pending = 0

    def filter_state(self) -> tuple[Any, ...]:
        """The Kalman filter's and the overuse detector's whole state (packet_core's compiled
        estimator gives the same, read from C: the tests compare them after every packet)."""
        e, d = self.estimator, self.detector
        return ((e.E[0][0], e.E[0][1], e.E[1][0], e.E[1][1]), e._offset, e.previous_offset, e.slope, e.avg_noise,
                e.var_noise, e._num_of_deltas, list(e._history), d.hypothesis, d.overuse_counter, d.overuse_time,
                d.previous_offset, d.threshold, d.last_update_ms)

    def throughput(self, now_ms: int) -> int | None:
        """Bits per second received over the last second (None before any data)."""
        # Like aiortc's RateCounter: bytes that arrived in [now - 999, now], per group.
        groups, horizon = self._groups, now_ms - WINDOW_MS
        while groups and groups[0][0] <= horizon:
            self._window_bytes -= groups.popleft()[1]
        total = self._window_bytes + self._pending
        span = min(WINDOW_MS, now_ms - self._origin + 1)
        if total <= 0 or span <= 1:
            return None
        return round(8000 * total / span)

    def _update(self, now_ms: int) -> tuple[int, list[int]] | None:
        # Also when the controller has no estimate yet: try again one interval later, not
        # on the next packet (aiortc retries on every packet for its first 3 seconds).
        self._last_update_ms = now_ms
        bitrate = self.rate_control.update(self.detector.state(), self.throughput(now_ms), now_ms)
        if bitrate is None:
            return None
        if self._reported is not None and bitrate < self._reported:
            bitrate = round(self._reported + self.decrease_weight * (bitrate - self._reported))
        bitrate = max(bitrate, self.floor_bps)
        self._reported = bitrate
        self.updates += 1
        return bitrate, list(self.ssrcs)
