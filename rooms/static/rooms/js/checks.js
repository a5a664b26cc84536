// Can this browser make a call? Feature detection, not user-agent sniffing.
import { _, fmt } from "./i18n.js";

// In-app browsers of mail, SMS and social applications: their web view often has no camera
// access, or loses it. Named by the tokens these applications put in their user agent.
const IN_APP = /\b(FBAN|FBAV|FB_IAB|FBIOS|Instagram|LinkedInApp|Snapchat|Line\/|MicroMessenger|musical_ly|BytedanceWebview|TikTok|Twitter|Pinterest|Messenger|WhatsApp|OutlookMobile|GmailApp)\b|; wv\)/;
// WebRTC in iOS Safari is usable from iOS 14.3 (camera in web views, replaceTrack, Unified
// Plan); older versions fail at the call, not before it.
const IOS_MIN = [14, 3];

// What kind of browser a user agent string tells, for the cases detection by feature cannot
// see: {inApp, ios: [major, minor] | null, oldIos}. Pure, for tests.
export function browserKind(ua) {
  const text = String(ua ?? "");
  const ios = /\b(?:iPhone|iPad|iPod)\b.*?\bOS (\d+)[_.](\d+)/.exec(text);
  const version = ios ? [Number(ios[1]), Number(ios[2])] : null;
  // On iOS a page opened inside an application has no "Safari/" token (WKWebView); Chrome,
  // Firefox and Edge for iOS say CriOS/FxiOS/EdgiOS and are real browsers.
  const iosWebView = Boolean(ios) && !/\bSafari\//.test(text) && !/\b(CriOS|FxiOS|EdgiOS)\//.test(text);
  const oldIos = Boolean(version) && (version[0] < IOS_MIN[0] || (version[0] === IOS_MIN[0] && version[1] < IOS_MIN[1]));
  return { inApp: IN_APP.test(text) || iosWebView, ios: version, oldIos };
}

// The browser the citizen should open the link in instead.
const usualBrowser = (kind) => (kind.ios ? "Safari" : "Chrome, Firefox, Edge");

export function browserProblem(ua = globalThis.navigator?.userAgent) {
  const kind = browserKind(ua);
  if (kind.oldIos) {
    return {
      code: "old_browser",
      blocking: true,
      copyLink: false,
      title: _("Your iPhone or iPad needs an update"),
      text: fmt(_("Video calls need iOS %(version)s or newer. Update it (Settings, General, Software update), or use a computer or another phone."),
        { version: IOS_MIN.join(".") }),
    };
  }
  if (kind.inApp) {
    return {
      code: "in_app_browser",
      blocking: false,
      copyLink: true,
      title: _("Open this link in your browser"),
      text: fmt(_("This page is open inside another application (mail, messages, social network), which often cannot use the camera. Open the link in %(browser)s: copy it below, or use the menu (⋯) and “Open in browser”."),
        { browser: usualBrowser(kind) }),
    };
  }
  if (!globalThis.isSecureContext) {
    return {
      code: "insecure_context",
      blocking: true,
      copyLink: false,
      title: _("Insecure connection"),
      text: _("This page must be opened over a secure connection (https). Open the link exactly as you received it."),
    };
  }
  const webrtc = "RTCPeerConnection" in globalThis && "WebSocket" in globalThis &&
    "replaceTrack" in (globalThis.RTCRtpSender?.prototype ?? {});
  if (!webrtc || !navigator.mediaDevices?.getUserMedia) {
    return {
      code: webrtc ? "no_getusermedia" : "no_webrtc",
      blocking: true,
      copyLink: true,
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
