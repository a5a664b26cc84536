// This browser's microphone, camera and screen: the tracks kept in state.local, what the
// call sends, what my own tile shows and what the toolbar buttons say. replaceCamera()
// is the one place the camera track changes (on, off, front/rear, another device).
import { _ } from "./i18n.js";
import { $, announce, setPressed } from "./dom.js";
import { mediaErrorCodes, mediaErrorText } from "./checks.js";
import { openAudio, openFacing, openMedia, openVideo, saveDevices, savedDevices } from "./devices.js";

const CARD_SIZE = { width: { ideal: 1280 }, height: { ideal: 720 } };
const DEFAULT_SIZE = { width: { ideal: 640 }, height: { ideal: 480 } };

// `changed()` is called when what I send changed (room.js tells the others).
export function localMedia({ state, call, stage, changed }) {
  const local = state.local;
  let card = false; // an ID check is reading the camera (setCardMode)

  // The camera becomes `track` (null: off). The call sends it unless the screen is
  // shared, my tile shows it, the preview stream holds it; the old camera stops once
  // the call no longer sends it (its light goes off: visibly off).
  async function replaceCamera(track) {
    if (track && card) await fitCamera(track);
    const old = local.camera;
    local.camera = track;
    if (old) local.stream.removeTrack(old);
    if (track) local.stream.addTrack(track);
    try {
      if (!local.screen) await call.setVideo(track);
    } finally {
      old?.stop();
    }
    if (!local.screen) stage.setVideo(state.me.pid, track, true);
    setPressed($("#gv-btn-cam"), !track);
  }

  // The camera's size: during an ID check its largest up to 1280x720 (a card at arm's length
  // then has twice the pixels per character), else the browser's default size (640x480,
  // which a track opened without a size gets: `applyConstraints({})` would keep 1280x720).
  async function fitCamera(track) {
    const { width, height, ...rest } = track.getConstraints(); // eslint-disable-line no-unused-vars
    const size = card ? CARD_SIZE : DEFAULT_SIZE;
    await track.applyConstraints({ ...rest, ...size }).catch((e) => console.warn("applyConstraints", e));
  }

  // An ID check starts (true) or ends (false): the camera and the sender keep the card's
  // detail while it runs (media.js videoParameters), the call's usual picture after.
  async function setCardMode(on) {
    if (on === card) return;
    card = on;
    if (local.camera) await fitCamera(local.camera);
    await call.setCardVideo(on);
  }

  // Open a camera with `open()`; on failure the user is told and nothing changes.
  async function openCamera(open) {
    try {
      return await open();
    } catch (error) {
      announce(mediaErrorText(error));
      return null;
    }
  }

  // The page's first microphone and camera. Without them the citizen joins anyway (they
  // can still see and hear). Returns the problems, for the agents' day view.
  async function start() {
    let problems;
    try {
      const stream = await openMedia();
      local.audio = stream.getAudioTracks()[0] ?? null;
      local.camera = stream.getVideoTracks()[0] ?? null;
      local.stream = stream;
      problems = [!local.camera && "no_camera", !local.audio && "no_microphone"].filter(Boolean);
    } catch (error) {
      problems = mediaErrorCodes(error);
      announce(mediaErrorText(error));
    }
    if (!local.audio) $("#gv-btn-mic").disabled = true;
    if (!local.camera) setPressed($("#gv-btn-cam"), true);
    return problems;
  }

  function setMic(on) {
    if (!local.audio) return;
    local.audio.enabled = on;
    setPressed($("#gv-btn-mic"), !on);
    changed();
  }

  async function setCamera(on) {
    const track = on ? await openCamera(() => openVideo(savedDevices().video)) : null;
    if (on && !track) return;
    await replaceCamera(track);
    changed();
  }

  // Front ⇄ rear camera (phones), kept for the rest of the call.
  async function switchCamera() {
    const track = await openCamera(() => openFacing(state.flipFacing()));
    if (!track) return;
    await replaceCamera(track);
    changed();
  }

  async function setScreen(on) {
    if (on) {
      try {
        const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
        local.screen = stream.getVideoTracks()[0];
      } catch {
        return; // the user cancelled the browser's picker
      }
      local.screen.addEventListener("ended", () => setScreen(false));
    } else {
      local.screen?.stop();
      local.screen = null;
    }
    await call.setVideo(state.outgoingVideo);
    stage.setVideo(state.me.pid, state.outgoingVideo, true);
    setPressed($("#gv-btn-screen"), on);
    announce(on ? _("You are sharing your screen.") : _("You stopped sharing your screen."));
    changed();
  }

  // A device chosen in Settings: used at once (a camera only if it is on), kept for later.
  async function pickDevice(kind, deviceId) {
    try {
      if (kind === "audio") {
        const track = await openAudio(deviceId);
        track.enabled = local.audio?.enabled ?? true;
        await call.setAudio(track);
        if (local.audio) local.stream.removeTrack(local.audio);
        local.audio?.stop();
        local.audio = track;
        local.stream.addTrack(track);
      } else if (local.camera) {
        await replaceCamera(await openVideo(deviceId));
      }
      saveDevices({ [kind]: deviceId });
    } catch (error) {
      announce(mediaErrorText(error));
    }
  }

  return { start, setMic, setCamera, switchCamera, setScreen, pickDevice, setCardMode };
}
