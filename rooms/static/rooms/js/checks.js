// Can this browser make a call? Feature detection, not user-agent sniffing.
import { _ } from "./i18n.js";

export function browserProblem() {
  if (!globalThis.isSecureContext) {
    return {
      code: "insecure_context",
      title: _("Insecure connection"),
      text: _("This page must be opened over a secure connection (https). Open the link exactly as you received it."),
    };
  }
  const webrtc = "RTCPeerConnection" in globalThis && "WebSocket" in globalThis &&
    "replaceTrack" in (globalThis.RTCRtpSender?.prototype ?? {});
  if (!webrtc || !navigator.mediaDevices?.getUserMedia) {
    return {
      code: webrtc ? "no_getusermedia" : "no_webrtc",
      title: _("Browser not supported"),
      text: _("Your browser cannot make video calls, or it is out of date. Update it, or use a recent Firefox, Chrome, Edge or Safari. On a phone, open the link in the phone's own browser rather than inside another application."),
    };
  }
  return null;
}

// The day view's problem codes (rooms/journey.py) for a getUserMedia failure.
export function mediaErrorCodes(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return ["camera_denied", "microphone_denied"];
    case "NotFoundError":
    case "OverconstrainedError":
      return ["no_camera", "no_microphone"];
    case "NotReadableError":
    case "AbortError":
      return ["camera_busy"];
    default:
      return ["no_getusermedia"];
  }
}

// A human explanation of a getUserMedia failure.
export function mediaErrorText(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return _("Access to the camera or microphone was refused. Allow it in your browser (the icon next to the address), then reload the page.");
    case "NotFoundError":
    case "OverconstrainedError":
      return _("No camera or microphone was found. Plug one in, or use a phone.");
    case "NotReadableError":
    case "AbortError":
      return _("The camera or microphone is already used by another application. Close it, then try again.");
    default:
      return _("The camera or microphone could not be started. Reload the page and try again.");
  }
}

// Tell the agents' day view how the check went (best effort: the call works without it).
export function reportCheck(url, problems) {
  const token = document.querySelector("[name=csrfmiddlewaretoken]")?.value;
  if (!url || !token) return;
  fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": token },
    body: JSON.stringify({ ok: problems.length === 0, problems }),
    credentials: "same-origin",
  }).catch(() => {});
}
