// Translation helpers without Django's catalog (rooms/static/rooms/js/i18n.js), under Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { _, fmt, ngettext } from "../../rooms/static/rooms/js/i18n.js";

test("without a catalog the English source text is shown, with its values", () => {
  assert.equal(_("Mute"), "Mute");
  assert.equal(fmt("%(name)s joined the call.", { name: "Ana" }), "Ana joined the call.");
  assert.equal(ngettext("%(n)s person before you.", "%(n)s people before you.", 1), "%(n)s person before you.");
  assert.equal(ngettext("%(n)s person before you.", "%(n)s people before you.", 2), "%(n)s people before you.");
});
