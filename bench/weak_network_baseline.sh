#!/bin/bash
# Issue 25's baseline measured by today's weak-network bench: the code before issue 25's first
# commit (3591674: no transport-cc, RED, video FEC, video-buffer rule nor link policy) in a
# worktree, run by this checkout's bench, link emulator and speech-like microphones. Run as root,
# like the bench; arguments go to the bench, e.g.
#     sudo bench/weak_network_baseline.sh --only 'downlink;uplink'
# Compare interleaved with this checkout (same arguments), round by round, under the bench lock.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
base=${GV_BASELINE_DIR:-/tmp/gv-baseline-3591674}
if [ ! -d "$base" ]; then
    git -C "$here" worktree add --detach "$base" 3591674 >/dev/null
    ln -s "$here/.venv" "$base/.venv"  # its requirements are a subset of today's, same pins
fi
# The old harness (tests/e2e) stays: it has what the bench calls; the bench, the emulator and
# the microphones are today's. The old page has no link readings: the bench reads its badge.
cp "$here/bench/weak_network_bench.py" "$here/bench/speech_like.py" "$base/bench/"
cp "$here/tests/linkemu.py" "$base/tests/"
cd "$base"
exec flock /tmp/gv-bench.lock .venv/bin/python bench/weak_network_bench.py "$@"
