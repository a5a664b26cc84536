// The browser's one offer, written in the media server's numbering (aiortc 1.16).
//
// aiortc numbers payload types and header extensions its own way (opus 96, VP8 97 + RTX 98;
// mid 1, audio level 2, abs-send-time 3) and uses that numbering in every offer it makes,
// including for m-lines the browser already negotiated with other numbers; its receivers
// keep the first numbers, so after the first server offer the server would drop the
// browser's packets (and read unknown header extensions as audio levels). Offering in the
// server's numbering from the start keeps one meaning per number in the BUNDLE.
const SERVER = {
  audio: {
    codecs: [["opus/48000/2", 96]],
    extensions: ["1 urn:ietf:params:rtp-hdrext:sdes:mid", "2 urn:ietf:params:rtp-hdrext:ssrc-audio-level"],
  },
  video: {
    codecs: [["vp8/90000", 97]],
    rtx: 98,
    extensions: ["1 urn:ietf:params:rtp-hdrext:sdes:mid", "3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"],
  },
};

const attr = (line) => line.slice(2, line.indexOf(":")); // "a=rtpmap:96 …" → "rtpmap"
const ptOf = (line) => line.slice(line.indexOf(":") + 1).split(" ")[0];

function alignSection(section) {
  const lines = section.split("\r\n");
  const kind = lines[0].slice(2).split(" ")[0];
  const server = SERVER[kind];
  if (!server) return section;
  const rename = new Map(); // browser payload type → server payload type
  for (const line of lines.filter((l) => l.startsWith("a=rtpmap:"))) {
    const codec = line.split(" ")[1].toLowerCase();
    const target = server.codecs.find(([name]) => name === codec);
    if (target && ![...rename.values()].includes(target[1])) rename.set(ptOf(line), String(target[1]));
  }
  if (server.rtx) {
    // The RTX stream of the kept video codec: `a=fmtp:<rtx> apt=<codec>`.
    for (const line of lines.filter((l) => l.startsWith("a=fmtp:"))) {
      const apt = /apt=(\d+)/.exec(line)?.[1];
      if (apt && rename.has(apt) && !rename.has(ptOf(line))) rename.set(ptOf(line), String(server.rtx));
    }
  }
  if (!rename.size) return section;
  const out = [];
  for (const line of lines) {
    if (line.startsWith("m=")) {
      const [media, port, proto] = line.split(" ");
      out.push([media, port, proto, ...rename.values()].join(" "));
    } else if (line.startsWith("a=extmap")) {
      continue;
    } else if (["rtpmap", "fmtp", "rtcp-fb"].includes(attr(line))) {
      const pt = ptOf(line);
      if (!rename.has(pt)) continue;
      let renamed = line.replace(`:${pt} `, `:${rename.get(pt)} `);
      renamed = renamed.replace(/apt=(\d+)/, (_m, p) => `apt=${rename.get(p) ?? p}`);
      out.push(renamed);
    } else {
      out.push(line);
    }
  }
  // Header extensions go right after the c= line (any place in the section is valid).
  const at = out.findIndex((l) => l.startsWith("c=")) + 1 || 1;
  out.splice(at, 0, ...server.extensions.map((e) => `a=extmap:${e}`));
  return out.join("\r\n");
}

export function alignToServer(sdp) {
  const [head, ...sections] = sdp.split(/\r\n(?=m=)/);
  const session = head.split("\r\n").filter((l) => l !== "a=extmap-allow-mixed").join("\r\n");
  return [session, ...sections.map(alignSection)].join("\r\n");
}
