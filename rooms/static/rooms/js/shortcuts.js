// The call's single-key shortcuts (M, V, H, C, P). They can be turned off (WCAG 2.1.4),
// remembered on this device; they act only in the call and never while typing.
import { $ } from "./dom.js";

const typing = (target) => target.closest("input, textarea, select, [contenteditable]");

export function shortcuts(panel) {
  const toggle = $("#gv-shortcuts");
  toggle.checked = localStorage.getItem("gv.shortcuts") !== "off";
  toggle.addEventListener("change", () => localStorage.setItem("gv.shortcuts", toggle.checked ? "on" : "off"));
  const keys = {
    m: () => $("#gv-btn-mic").click(),
    v: () => $("#gv-btn-cam").click(),
    h: () => $("#gv-btn-hand").click(),
    c: () => panel.toggle("chat"),
    p: () => panel.toggle("people"),
  };
  document.addEventListener("keydown", (e) => {
    if (!toggle.checked || e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || $("#gv-call").hidden ||
      document.body.classList.contains("gv-idcheck-open")) return; // the ID check dialog is modal
    const action = keys[e.key.toLowerCase()];
    if (action) {
      e.preventDefault();
      action();
    }
  });
}
