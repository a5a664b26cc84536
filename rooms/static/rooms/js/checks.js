// Can this browser make a call? Feature detection, not user-agent sniffing.
import { _ } from "./i18n.js";

export function browserProblem() {
  if (!globalThis.isSecureContext) {
    return {
      title: _("Insecure connection"),
      text: _("This page must be opened over a secure connection (https). Open the link exactly as you received it."),
    };
  }
  const ok = "RTCPeerConnection" in globalThis && navigator.mediaDevices?.getUserMedia &&
    "WebSocket" in globalThis && "replaceTrack" in (globalThis.RTCRtpSender?.prototype ?? {});
  if (!ok) {
    return {
      title: _("Browser not supported"),
      text: _("Your browser cannot make video calls, or it is out of date. Update it, or use a recent Firefox, Chrome, Edge or Safari. On a phone, open the link in the phone's own browser rather than inside another application."),
    };
  }
  return null;
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
