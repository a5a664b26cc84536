// Which browsers the first page tells to open the link elsewhere (rooms/static/rooms/js/checks.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { browserKind, browserProblem } from "../../rooms/static/rooms/js/checks.js";

export const UA = {
  iosSafari17: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  iosSafari12: "Mozilla/5.0 (iPhone; CPU iPhone OS 12_5_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Mobile/15E148 Safari/604.1",
  iosSafari14_2: "Mozilla/5.0 (iPhone; CPU iPhone OS 14_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/14.0.1 Mobile/15E148 Safari/604.1",
  iosChrome: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/122.0.6261.89 Mobile/15E148",
  iosFacebook: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/455.0.0.38.107;FBBV/562520183]",
  iosWebView: "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  androidInstagram: "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile Safari/537.36 Instagram 312.1.0.34.111 Android",
  androidWebView: "Mozilla/5.0 (Linux; Android 12; Pixel 6; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.0.0 Mobile Safari/537.36",
  androidChrome: "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Mobile Safari/537.36",
  desktopFirefox: "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
};

test("real browsers are not flagged", () => {
  for (const name of ["iosSafari17", "iosChrome", "androidChrome", "desktopFirefox"]) {
    const kind = browserKind(UA[name]);
    assert.equal(kind.inApp, false, name);
    assert.equal(kind.oldIos, false, name);
  }
});

test("in-app browsers and web views are flagged, not blocking", () => {
  for (const name of ["iosFacebook", "iosWebView", "androidInstagram", "androidWebView"]) {
    assert.equal(browserKind(UA[name]).inApp, true, name);
  }
  globalThis.isSecureContext = true;
  const problem = browserProblem(UA.iosFacebook);
  assert.equal(problem.code, "in_app_browser");
  assert.equal(problem.blocking, false);
  assert.match(problem.text, /Safari/);
  assert.match(browserProblem(UA.androidInstagram).text, /Chrome/);
});

test("iOS before 14.3 is told to update, blocking", () => {
  assert.deepEqual(browserKind(UA.iosSafari12).ios, [12, 5]);
  assert.equal(browserKind(UA.iosSafari12).oldIos, true);
  assert.equal(browserKind(UA.iosSafari14_2).oldIos, true);
  const problem = browserProblem(UA.iosSafari12);
  assert.equal(problem.code, "old_browser");
  assert.equal(problem.blocking, true);
});

test("any string: no exception, a boolean verdict (random user agents)", () => {
  const alphabet = "abcFBANwv;()/ _.0123456789iPhoneOSSafariCriOSLine";
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let i = 0; i < 2000; i += 1) {
    let ua = "";
    for (let n = next() % 80; n > 0; n -= 1) ua += alphabet[next() % alphabet.length];
    const kind = browserKind(ua);
    assert.equal(typeof kind.inApp, "boolean");
    assert.equal(typeof kind.oldIos, "boolean");
  }
  assert.equal(browserKind(undefined).inApp, false);
  assert.equal(browserKind(null).oldIos, false);
});
