// `npm run build`: the citizen pages' JavaScript as one minified module per page (issue 21).
//
// The sources stay in rooms/static/rooms/js (unit-tested under Node, linted, read by the
// device test page as they are); browsers of the join and room pages get what this writes
// in rooms/static/rooms/dist, which is committed: production needs no Node, Django's
// ManifestStaticFilesStorage hashes the files at collectstatic as it does every other.
//
//   dist/prejoin.js, dist/room.js   one module per page, nothing imported at load
//   dist/notes-<hash>.js            the shared notes, loaded when their panel opens; Yjs stays
//                                   the vendored file it imports (rooms/static/rooms/vendor/yjs)
//   dist/idcheck-<hash>.js          the ID check, loaded at its first message
//
// The lazy parts are built first and named by their content; the page bundles then import
// them by that name, so a changed notes.js changes room.js too (new hashed URL). Each lazy
// part carries its own copy of the small helpers it shares with the page (i18n.js, dom.js:
// no state worth sharing), so no page loads a second module before it runs.
//
// rooms/bundle-inputs.json lists every source file with its SHA-256: tests/rooms/test_bundle.py
// fails when a source changed and the bundle was not rebuilt; tests/js/bundle.test.js builds
// again in memory and compares byte for byte.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.dirname(fileURLToPath(import.meta.url));
const SOURCES = "rooms/static/rooms/js";
export const OUT = "rooms/static/rooms/dist";
export const INPUTS = "rooms/bundle-inputs.json";
const PAGES = ["room", "prejoin"];
const LAZY = ["notes", "idcheck"];

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"], // the oldest browsers the join page lets through (rooms/static/rooms/js/checks.js)
  legalComments: "none",
  charset: "utf8",
  metafile: true,
  write: false,
  logLevel: "warning",
};

const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

// Every output file (path relative to ROOT → bytes) and the inputs' digests, in memory.
export async function build() {
  const files = new Map();
  const inputs = new Set(["bundle.mjs", "package-lock.json"]);
  const lazyNames = {};
  const keep = (result) => {
    for (const input of Object.keys(result.metafile.inputs)) inputs.add(input);
    for (const file of result.outputFiles) files.set(path.relative(ROOT, file.path), file.contents);
  };
  // Vendored libraries stay files of their own, already minified, imported by the same
  // relative path (dist/ and js/ are siblings): served and checked as they were vendored.
  const vendored = {
    name: "vendored",
    setup(b) {
      b.onResolve({ filter: /^\.\.\/vendor\// }, (args) => ({ path: args.path, external: true }));
    },
  };
  for (const name of LAZY) {
    const result = await esbuild.build({
      ...common, entryPoints: [`${SOURCES}/${name}.js`], outdir: OUT, entryNames: "[name]-[hash]", plugins: [vendored],
    });
    keep(result);
    lazyNames[`./${name}.js`] = `./${path.basename(result.outputFiles[0].path)}`;
  }
  // The pages import the lazy parts by their built names, left as imports (not bundled in).
  const lazyByName = {
    name: "lazy-parts",
    setup(b) {
      b.onResolve({ filter: /^\.\/(notes|idcheck)\.js$/ }, (args) =>
        args.kind === "dynamic-import" ? { path: lazyNames[args.path], external: true } : undefined);
    },
  };
  for (const name of PAGES) {
    keep(await esbuild.build({ ...common, entryPoints: [`${SOURCES}/${name}.js`], outdir: OUT, plugins: [lazyByName] }));
  }
  const digests = Object.fromEntries([...inputs].sort().map((p) => [p, sha256(readFileSync(path.join(ROOT, p)))]));
  const outputs = Object.fromEntries([...files.keys()].sort().map((p) => [p, sha256(files.get(p))]));
  const manifest = { esbuild: esbuild.version, inputs: digests, outputs };
  files.set(INPUTS, new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n"));
  return files;
}

async function main() {
  const files = await build();
  rmSync(path.join(ROOT, OUT), { recursive: true, force: true }); // no stale chunk left behind
  for (const [file, bytes] of files) {
    mkdirSync(path.dirname(path.join(ROOT, file)), { recursive: true });
    writeFileSync(path.join(ROOT, file), bytes);
  }
  for (const file of [...files.keys()].sort()) console.log(`${file}  ${files.get(file).length} bytes`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
