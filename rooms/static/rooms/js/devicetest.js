// Device test page (portal/devicetest.py): after the camera and microphone check
// (prejoin.js says "gv:checked"), a real connection to the media service, alone, for a
// few seconds; then one verdict, told to the citizen and to the agents' day view.
import { _, fmt } from "./i18n.js";
import { $ } from "./dom.js";
import { reportCheck } from "./checks.js";
import { Call } from "./media.js";
import { measureRoundTrip } from "./stats.js";

const config = JSON.parse($("#gv-config").textContent);
const section = $("#gv-net");
const status = $("#gv-net-status");
const SETTLE = 2000; // ms of media before reading the round-trip time

function post(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json",
               "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
}

// Resolves to {ok, rtt} once connected (and a little media sent), or {ok: false}.
function connect(stream) {
  return new Promise((resolve) => {
    let settled = false;
    const call = new Call({
      iceServers: config.ice_servers,
      send: async ({ sdp }) => {
        try {
          const response = await post(section.dataset.offerUrl, { sdp });
          if (!response.ok) throw new Error(`offer refused: ${response.status}`);
          await call.answered({ ...(await response.json()), tracks: {} });
        } catch (error) {
          console.warn("device test", error);
          finish({ ok: false });
        }
      },
      onConnection: async (state) => {
        if (state === "connected") {
          setTimeout(async () => {
            if (!settled) finish({ ok: true, rtt: await measureRoundTrip(call.pc) });
          }, SETTLE);
        } else if (state === "failed") {
          finish({ ok: false });
        }
      },
    });
    function finish(result) {
      if (settled) return;
      settled = true;
      call.close();
      resolve(result);
    }
    call.start({ audio: stream?.getAudioTracks()[0], video: stream?.getVideoTracks()[0] });
  });
}

function show(ok, title, text) {
  const box = $("#gv-result");
  box.classList.remove("fr-alert--success", "fr-alert--warning");
  box.classList.add(ok ? "fr-alert--success" : "fr-alert--warning");
  $("#gv-result-title").textContent = title;
  $("#gv-result-text").textContent = text;
  box.hidden = false;
  box.focus();
}

async function run({ problems, stream }) {
  status.textContent = _("Connecting to the video service…");
  const net = await connect(stream);
  if (net.ok) {
    status.textContent = net.rtt != null
      ? fmt(_("Connected: the round trip takes %(ms)s ms."), { ms: Math.round(net.rtt * 1000) })
      : _("Connected.");
  } else {
    status.textContent = _("The connection to the video service failed. Your network may block video calls (some company or public Wi-Fi networks do): try another network, such as your phone's mobile data.");
  }
  const all = net.ok ? problems : [...problems, "no_connection"];
  reportCheck(section.dataset.reportUrl, all);
  document.body.dataset.gvTest = all.length ? "failed" : "passed";
  if (!all.length) {
    show(true, _("You are ready"), _("Your camera, microphone and connection work. The agent is told. Keep the message: the room link comes shortly before the appointment."));
  } else {
    show(false, _("Something needs attention"), _("Read the messages above. You can fix it and reload this page, or call the help number below."));
  }
}

document.addEventListener("gv:checked", (event) => run(event.detail), { once: true });
