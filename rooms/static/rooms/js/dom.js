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

// Politely tell screen-reader users (and everyone) what just happened.
export function announce(text) {
  const status = document.getElementById("gv-status");
  if (!status) return;
  status.textContent = "";
  // A fresh text node makes screen readers read the same message twice in a row.
  requestAnimationFrame(() => { status.textContent = text; });
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => { if (status.textContent === text) status.textContent = ""; }, 10000);
}

export function setPressed(button, pressed, label) {
  button.setAttribute("aria-pressed", String(pressed));
  if (label) button.firstChild.textContent = label;
}
