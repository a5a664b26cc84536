"""Janus (Debian's package) as the bench's peer: its network, its configuration, its process.

Nothing of Janus is committed: the bench runs /usr/bin/janus if it is installed and says
so when it is not. Janus skips loopback interfaces when it gathers ICE candidates, so
the whole bench (our server, Janus and the generator) runs in a network namespace of
its own with a veth pair: both ends are local addresses of that namespace, traffic stays
on this machine, and both servers are reached at the same non-loopback address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

JANUS = "/usr/bin/janus"
LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
NETNS_ENV = "MEDIA_BENCH_NETNS"  # set inside the namespace: the address to use
ADDRESS = "10.77.0.1"
PEER_ADDRESS = "10.77.0.2"
HTTP_PORT = 8088
# Only what the bench uses is loaded: the VideoRoom plugin, the HTTP transport, no event
# handler, no logger plugin (each other plugin would add threads and memory to Janus's figures).
PLUGIN = "libjanus_videoroom.so"
TRANSPORT = "libjanus_http.so"


def absent_reason() -> str | None:
    """Why Janus cannot run here (None: it can)."""
    if not Path(JANUS).exists():
        return "Janus is not installed (apt-get install janus: Debian's 1.1.2)"
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "Janus needs a network namespace (root and iproute2): it skips loopback interfaces for ICE"
    return None


def run_in_namespace(argv: list[str]) -> int:
    """Run this bench again inside a fresh network namespace with a veth pair; remove it after."""
    name = f"gvbench{os.getpid()}"
    setup = [
        ["ip", "netns", "add", name],
        ["ip", "-n", name, "link", "set", "lo", "up"],
        ["ip", "-n", name, "link", "add", "gvb0", "type", "veth", "peer", "name", "gvb1"],
        ["ip", "-n", name, "addr", "add", f"{ADDRESS}/24", "dev", "gvb0"],
        ["ip", "-n", name, "addr", "add", f"{PEER_ADDRESS}/24", "dev", "gvb1"],
        ["ip", "-n", name, "link", "set", "gvb0", "up"],
        ["ip", "-n", name, "link", "set", "gvb1", "up"],
    ]
    try:
        for command in setup:
            subprocess.run(command, check=True)
        env = {**os.environ, NETNS_ENV: ADDRESS}
        return subprocess.run(["ip", "netns", "exec", name, sys.executable, *argv], env=env).returncode
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def _config(folder: Path, debug_level: int) -> None:
    """janus.jcfg: the packaged defaults, but only VideoRoom and HTTP loaded, configs from `folder`."""
    plugins = sorted(p.name for p in (LIB / "plugins").glob("*.so") if p.name != PLUGIN)
    transports = sorted(p.name for p in (LIB / "transports").glob("*.so") if p.name != TRANSPORT)
    (folder / "janus.jcfg").write_text(f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{LIB / 'plugins'}"
    transports_folder = "{LIB / 'transports'}"
    events_folder = "{LIB / 'events'}"
    loggers_folder = "{LIB / 'loggers'}"
    debug_level = {debug_level}
}}
media: {{
}}
nat: {{
    nice_debug = false
    ice_ignore_list = "vmnet"
}}
plugins: {{
    disable = "{','.join(plugins)}"
}}
transports: {{
    disable = "{','.join(transports)}"
}}
events: {{
    broadcast = false
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
""")
    # VideoRoom with its packaged defaults, minus the demo rooms (the bench creates its own).
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    (folder / "janus.transport.http.jcfg").write_text(f"""general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {HTTP_PORT}
    https = false
}}
admin: {{
    admin_http = false
}}
""")


class JanusProcess:
    """One Janus server, pinned like ours, for one case of the bench."""

    def __init__(self, cpu: int | None, debug_level: int = 4) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="gv-janus-"))
        _config(self._folder, debug_level)
        command = [JANUS, "-C", str(self._folder / "janus.jcfg"), "-F", str(self._folder), "-o", "-N",
                   "-L", str(self._folder / "janus.log"), "-d", str(debug_level)]
        if cpu is not None:
            command = ["taskset", "-c", str(cpu), *command]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.pid = self.process.pid  # taskset execs janus: same process
        self.url = f"http://{ADDRESS}:{HTTP_PORT}/janus"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Janus exited at start: see {self._folder / 'janus.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/info", timeout=1) as response:  # noqa: S310  # our own server
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("Janus did not answer on its HTTP API within 20 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)
