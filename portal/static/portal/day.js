// Day view: live updates. The server only says which appointment changed; we re-read
// that row's HTML, so the page shows exactly what the database says.
import { beep } from "../rooms/js/tone.js";

const table = document.querySelector(".gv-day");
const alertBox = document.getElementById("gv-day-alert");
const live = document.getElementById("gv-day-live");
const SIGNED_OUT = 4401;  // portal/consumers.py: the session ended, do not reconnect
const gettext = window.gettext || ((text) => text);  // Django's JavaScript catalog

const focusables = (row) => [...row.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea")];
// What names a control across redraws: its form's action and its name/value, or its link.
const controlKey = (c) => `${c.tagName}|${c.form?.getAttribute("action") ?? ""}|${c.getAttribute("href") ?? ""}|${c.name ?? ""}|${c.textContent.trim()}`;

async function refresh(id) {
  const url = table.dataset.rowUrl.replace("/0/", `/${id}/`);
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return;
  const holder = document.createElement("tbody");
  holder.innerHTML = (await response.text()).trim();
  const fresh = holder.querySelector("tr");
  const old = document.getElementById(`appt-${id}`);
  const wasWaiting = old && old.dataset.presence === "waiting";
  const joinAlert = (row) => row?.querySelector("[data-join-alert]")?.dataset.joinAlert || "";
  const wasAlert = joinAlert(old);
  // The row is replaced while the agent may be on one of its links or buttons: the focus
  // goes to the same control of the new row (else its first one), never to the page's top.
  const active = document.activeElement;
  const focusedAt = old && old.contains(active) ? focusables(old).indexOf(active) : -1;
  const focusedKey = focusedAt >= 0 ? controlKey(active) : null;
  if (old) old.replaceWith(fresh); else table.tBodies[0].append(fresh);
  if (focusedAt >= 0) {
    const controls = focusables(fresh);
    const target = controls.find((c) => controlKey(c) === focusedKey) ?? controls[Math.min(focusedAt, controls.length - 1)];
    if (target) target.focus();
    else { fresh.tabIndex = -1; fresh.focus(); }
  }
  if (fresh.dataset.presence === "waiting" && !wasWaiting) {
    alertBox.textContent = `${fresh.dataset.citizen} — ${gettext("is waiting for you")}`;
    alertBox.hidden = false;
    beep();
  } else if (joinAlert(fresh) === "refused" && wasAlert !== "refused") {
    alertBox.textContent = `${fresh.dataset.citizen} — ${gettext("is locked out of the room code")}`;
    alertBox.hidden = false;
    beep();
  }
}

function connect(delay = 1000) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${table.dataset.ws}`);
  socket.addEventListener("open", () => { live.textContent = gettext("Live updates: on"); delay = 1000; });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "day.changed") refresh(message.appointment);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === SIGNED_OUT) {
      // The session ended (closed from another browser, or the account deactivated): no retry.
      live.textContent = gettext("Session ended: sign in again to see live updates.");
      live.dataset.state = "signed-out";
      alertBox.textContent = gettext("Your session has ended. Sign in again.");
      alertBox.hidden = false;
      return;
    }
    live.textContent = gettext("Live updates: reconnecting…");
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  });
}

if (table) connect();
