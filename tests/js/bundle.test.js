// The committed bundles are exactly what `npm run build` makes from the sources now
// (bundle.mjs): rebuilt in memory, compared byte for byte. tests/rooms/test_bundle.py checks
// the same without Node, from the digests in rooms/bundle-inputs.json.
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { INPUTS, OUT, build } from "../../bundle.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

test("the committed bundles are those the sources build", async () => {
  const files = await build();
  const committed = readdirSync(path.join(ROOT, OUT)).map((name) => `${OUT}/${name}`).concat([INPUTS]).sort();
  assert.deepEqual(committed, [...files.keys()].sort(), "run `npm run build` and commit its output");
  for (const [file, bytes] of files) {
    assert.ok(Buffer.from(bytes).equals(readFileSync(path.join(ROOT, file))), `${file} is stale: run \`npm run build\``);
  }
});
