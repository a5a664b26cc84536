// Join page: is the browser able to call, do the camera and microphone work, which ones.
import { _ } from "./i18n.js";
import { $ } from "./dom.js";
import { browserProblem, mediaErrorCodes, mediaErrorText, reportCheck } from "./checks.js";
import { fillSelect, openAudio, openMedia, openVideo, saveDevices, savedDevices, trackDevice } from "./devices.js";
import { startMeter } from "./meter.js";

const preview = $("#gv-preview");
const level = $("#gv-level");
const message = $("#gv-device-msg");
const stream = new MediaStream();
let stopMeter = () => {};

// Told to the agents' day view, and to the page (the device test goes on with its
// connection test when it hears "gv:checked").
function report(problems) {
  reportCheck($("#gv-prejoin").dataset.reportUrl, problems);
  document.dispatchEvent(new CustomEvent("gv:checked", { detail: { problems, stream } }));
}

function showProblem({ title, text, copyLink = false }, severity = "error") {
  const box = $("#gv-check");
  box.classList.add(`fr-alert--${severity}`);
  $("#gv-check-title").textContent = title;
  $("#gv-check-text").textContent = text;
  // The link to open elsewhere, to copy (a personal link works on one device at a time: the
  // other browser takes it over).
  const copy = $("#gv-check-copy");
  if (copy && copyLink) {
    $("#gv-check-url").value = location.href;
    $("#gv-check-copy-btn").addEventListener("click", async () => {
      const url = $("#gv-check-url");
      url.select();
      try {
        await navigator.clipboard.writeText(url.value);
        $("#gv-check-copied").textContent = _("Link copied. Paste it in the address bar of your browser.");
      } catch {
        $("#gv-check-copied").textContent = _("Select the link above and copy it.");
      }
    });
    copy.hidden = false;
  }
  box.hidden = false;
}

function use(kind, track) {
  for (const old of stream.getTracks().filter((t) => t.kind === kind)) {
    stream.removeTrack(old);
    old.stop();
  }
  if (track) stream.addTrack(track);
  if (kind === "audio") {
    stopMeter();
    stopMeter = startMeter(track, (v) => { level.value = v; level.textContent = v.toFixed(2); });
  }
  preview.srcObject = stream;
  saveDevices({ [kind]: trackDevice(track) });
}

async function refreshPickers() {
  const current = savedDevices();
  await fillSelect($("#gv-camera"), "videoinput", current.video, _("Camera"));
  await fillSelect($("#gv-mic"), "audioinput", current.audio, _("Microphone"));
  if ("setSinkId" in HTMLMediaElement.prototype) {
    const n = await fillSelect($("#gv-speaker"), "audiooutput", current.output, _("Speaker"));
    $("#gv-speaker-group").hidden = n === 0;
  }
  $("#gv-devices").hidden = false;
}

let starting = null;
const allow = () => (starting ??= start().finally(() => { starting = null; }));

async function start() {
  const button = $("#gv-allow");
  message.textContent = _("Starting the camera and microphone…");
  try {
    const fresh = await openMedia();
    use("audio", fresh.getAudioTracks()[0] ?? null);
    use("video", fresh.getVideoTracks()[0] ?? null);
    await refreshPickers();
    const missing = !fresh.getVideoTracks().length ? _("No camera: the agent will only hear you.")
      : !fresh.getAudioTracks().length ? _("No microphone: the agent will not hear you.") : "";
    // The page says what "working" leads to (the device test, a day ahead, does not say "join now").
    message.textContent = missing || $("#gv-prejoin").dataset.readyText || _("Camera and microphone work. You can join the appointment.");
    // The button goes; its focus goes to what happened (read out), next to the next step.
    const hadFocus = document.activeElement === button;
    button.hidden = true;
    if (hadFocus) message.focus();
    report([!fresh.getVideoTracks().length && "no_camera", !fresh.getAudioTracks().length && "no_microphone"]
      .filter(Boolean));
  } catch (error) {
    message.textContent = "";
    showProblem({ title: _("Camera or microphone unavailable"), text: mediaErrorText(error) }, "warning");
    report(mediaErrorCodes(error));
  }
}

async function pick(kind, deviceId) {
  try {
    use(kind, kind === "audio" ? await openAudio(deviceId) : await openVideo(deviceId));
  } catch (error) {
    message.textContent = mediaErrorText(error);
  }
}

function init() {
  // Back from a refused form: put the keyboard (and the eyes) on what to correct.
  (document.querySelector("#gv-join-form [aria-invalid='true']") ?? document.getElementById("gv-form-errors"))
    ?.focus?.();
  const problem = browserProblem();
  if (problem) {
    showProblem(problem, problem.blocking ? "error" : "warning");
    report([problem.code]);
    if (problem.blocking) return;
  }
  $("#gv-prejoin").hidden = false;
  $("#gv-allow").addEventListener("click", allow);
  $("#gv-camera").addEventListener("change", (e) => pick("video", e.target.value));
  $("#gv-mic").addEventListener("change", (e) => pick("audio", e.target.value));
  $("#gv-speaker").addEventListener("change", (e) => saveDevices({ output: e.target.value }));
  // Release the devices before the room page asks for them again.
  $("#gv-join-form")?.addEventListener("submit", () => { stopMeter(); stream.getTracks().forEach((t) => t.stop()); });
  // Already allowed on an earlier visit: show the preview at once.
  // (Not again if the person was quicker: a second start would reset what the first found.)
  navigator.permissions?.query({ name: "camera" })
    .then((p) => { if (p.state === "granted" && !stream.getTracks().length) allow(); }, () => {});
}

init();
