// Tiny DOM helpers: build elements without innerHTML (user text stays text).
export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

// Notices kept for later (RGAA 7.5 / WCAG 2.2.1): the toast goes after a while, its text
// stays in the settings panel's "Recent notices" list, newest first.
const HISTORY_SIZE = 20;

export function remember(text) {
  const list = document.getElementById("gv-history");
  if (!list || !text) return;
  const at = new Date().toLocaleTimeString(document.documentElement.lang || undefined, { hour: "2-digit", minute: "2-digit" });
  list.prepend(el("li", {}, el("span", { class: "gv-chat-msg__at", text: `${at} ` }), text));
  while (list.children.length > HISTORY_SIZE) list.lastElementChild.remove();
  const empty = document.getElementById("gv-history-empty");
  if (empty) empty.hidden = true;
}

// Politely tell screen-reader users (and everyone) what just happened.
export function announce(text) {
  const status = document.getElementById("gv-status");
  if (!status) return;
  remember(text);
  status.textContent = "";
  // A fresh text node makes screen readers read the same message twice in a row.
  requestAnimationFrame(() => { status.textContent = text; });
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { if (status.textContent === text) status.textContent = ""; }, 10000);
}

// A toggle keeps one label and tells its state by aria-pressed only ("Mute", pressed =
// muted): a label that flips as well contradicts the state read out (RGAA 7.1).
export function setPressed(button, pressed) {
  button.setAttribute("aria-pressed", String(pressed));
}

// Replace the rows of a list (rows with data-pid, buttons with data-act) without losing the
// keyboard focus: the same button of the same row, else the same button of the row now at
// that place, else `fallback`.
export function replaceRows(list, rows, fallback) {
  const active = document.activeElement;
  const inside = active && active !== list && list.contains(active);
  const row = inside ? active.closest("[data-pid]") : null;
  const act = inside ? active.dataset.act : null;
  const index = row ? [...list.children].indexOf(row) : -1;
  list.replaceChildren(...rows);
  if (!inside) return;
  const pick = (r) => r && (act ? r.querySelector(`[data-act="${act}"]`) : null) || r?.querySelector("button, input, a[href]");
  const same = [...list.children].find((r) => row && r.dataset.pid === row.dataset.pid);
  const target = pick(same) || pick(list.children[Math.min(index, list.children.length - 1)]) || fallback;
  target?.focus();
}
