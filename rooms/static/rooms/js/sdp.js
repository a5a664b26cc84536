// RTP header extensions the media server (aiortc) speaks, with the ids it uses in its own
// offers. In one BUNDLE every m-line must map an id to the same extension; aiortc keeps one
// id map per transport and numbers its offers from 1, so the browser's first offer must use
// the same numbers, or the server misreads the browser's packets (e.g. a 0-byte extension
// taken for an audio level) and drops the connection.
const SERVER_EXTENSIONS = {
  audio: ["a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level"],
  video: ["a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"],
};

export function alignExtensions(sdp) {
  const [head, ...sections] = sdp.split(/\r\n(?=m=)/);
  const out = [head.split("\r\n").filter((l) => l !== "a=extmap-allow-mixed").join("\r\n")];
  for (const section of sections) {
    const lines = section.split("\r\n").filter((l) => !l.startsWith("a=extmap"));
    const kind = lines[0].slice(2).split(" ")[0];
    const at = lines.findIndex((l) => l.startsWith("a=rtcp-mux")); // any place after c= will do
    lines.splice(at < 0 ? lines.length - 1 : at, 0, ...(SERVER_EXTENSIONS[kind] ?? []));
    out.push(lines.join("\r\n"));
  }
  return out.join("\r\n");
}
