// The videos: one tile per admitted participant, tile view or speaker view.
import { _ } from "./i18n.js";
import { el } from "./dom.js";
import { roleLabel } from "./roles.js";

const initials = (name) => name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");

export class Stage {
  constructor(root, audioRoot, sinkId) {
    this.root = root;
    this.audioRoot = audioRoot;
    this.sinkId = sinkId;
    this.tiles = new Map();
    this.onBlockedAudio = null;
  }

  tile(pid, self) {
    let tile = this.tiles.get(pid);
    if (!tile) {
      const video = el("video", { autoplay: true, playsinline: true, muted: true, "aria-hidden": "true" });
      video.muted = true; // sound goes through the <audio> element
      tile = {
        node: el("figure", { class: `gv-tile${self ? " gv-tile--self" : ""}`, "data-pid": pid }),
        video,
        avatar: el("div", { class: "gv-avatar", "aria-hidden": "true" }),
        name: el("span", { class: "gv-tile__name" }),
        role: el("span", { class: "gv-tile__role" }),
        flags: el("span", { class: "gv-tile__flags" }),
        link: el("span", { class: "gv-quality gv-tile__link", hidden: true }),
        audio: null,
      };
      tile.node.append(video, tile.avatar,
        el("figcaption", { class: "gv-tile__caption" }, tile.name, tile.role, tile.flags, tile.link));
      this.tiles.set(pid, tile);
      if (self) this.root.prepend(tile.node);
      else this.root.append(tile.node);
    }
    return tile;
  }

  // Show a participant's name and state (microphone, camera, hand, screen).
  update(p, self = false) {
    const tile = this.tile(p.pid, self);
    tile.name.textContent = self ? `${p.name} (${_("you")})` : p.name;
    tile.avatar.textContent = initials(p.name || "?");
    tile.role.textContent = roleLabel(p.role);
    tile.role.hidden = !tile.role.textContent;
    const flags = [];
    if (p.hand) flags.push(["✋", _("hand raised")]);
    if (p.audio === false) flags.push(["🔇", _("microphone off")]);
    if (p.screen) flags.push(["🖥", _("sharing the screen")]);
    if (p.online === false) flags.push(["⚠", _("connection lost")]); // back within the grace, else gone
    tile.flags.replaceChildren(
      ...flags.map(([icon, label]) => el("span", { class: "gv-flag", title: label },
        el("span", { "aria-hidden": "true", text: icon }), el("span", { class: "fr-sr-only", text: label }))),
    );
    tile.node.classList.toggle("gv-tile--hand", Boolean(p.hand));
    tile.node.classList.toggle("gv-tile--lost", p.online === false);
    tile.node.classList.toggle("gv-tile--nocam", p.video === false && !p.screen);
  }

  // A participant's link as their indicator measures it (participant.link; it may come
  // before participant.joined: the tile is made here then).
  setLink(pid, level, label) {
    const tile = this.tile(pid, false);
    tile.link.dataset.level = level;
    tile.link.textContent = label;
    tile.link.hidden = level === "unknown";
  }

  setVideo(pid, track, self = false) {
    const tile = this.tile(pid, self);
    const current = tile.video.srcObject?.getVideoTracks()[0];
    if (current === track) return;
    tile.video.srcObject = track ? new MediaStream([track]) : null;
    tile.node.classList.toggle("gv-tile--novideo", !track);
    // For bench/first_frame_bench.py: the page's own clock of the first remote picture.
    if (track && !self && !performance.getEntriesByName("gv:first-remote-frame").length) {
      tile.video.requestVideoFrameCallback?.(() => {
        if (!performance.getEntriesByName("gv:first-remote-frame").length) performance.mark("gv:first-remote-frame");
      });
    }
  }

  setAudio(pid, track) {
    const tile = this.tile(pid, false);
    if (!track) {
      tile.audio?.remove();
      tile.audio = null;
      return;
    }
    if (tile.audio?.srcObject?.getAudioTracks()[0] === track) return;
    tile.audio ??= this.audioRoot.appendChild(el("audio", { autoplay: true }));
    tile.audio.srcObject = new MediaStream([track]);
    if (this.sinkId && tile.audio.setSinkId) tile.audio.setSinkId(this.sinkId).catch(() => {});
    // Autoplay with sound can be refused until the user touches the page.
    tile.audio.play().catch(() => this.onBlockedAudio?.());
  }

  resumeAudio() {
    for (const tile of this.tiles.values()) tile.audio?.play().catch(() => {});
  }

  remove(pid) {
    const tile = this.tiles.get(pid);
    if (!tile) return;
    tile.audio?.remove();
    tile.node.remove();
    this.tiles.delete(pid);
  }

  clear() {
    for (const pid of [...this.tiles.keys()]) this.remove(pid);
  }

  setView(view) {
    this.root.classList.toggle("gv-stage--speaker", view === "speaker");
    this.root.classList.toggle("gv-stage--tiles", view !== "speaker");
  }

  setSpeaker(pid) {
    for (const [id, tile] of this.tiles) tile.node.classList.toggle("gv-tile--speaker", id === pid);
  }

  setSpeaking(pid, speaking) {
    this.tiles.get(pid)?.node.classList.toggle("gv-tile--speaking", speaking);
  }
}
