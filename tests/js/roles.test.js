// Third parties' role labels (rooms/static/rooms/js/roles.js), under Node (no catalog: English).
import { test } from "node:test";
import assert from "node:assert/strict";
import { nameWithRole, roleLabel } from "../../rooms/static/rooms/js/roles.js";

test("third parties are named with their role, the agent and the citizen are not", () => {
  assert.equal(nameWithRole({ name: "Hugo Help", role: "helpdesk" }), "Hugo Help (France Services helpdesk)");
  assert.equal(nameWithRole({ name: "Ana Lopes", role: "interpreter" }), "Ana Lopes (Interpreter)");
  assert.equal(nameWithRole({ name: "Carl Agent", role: "agent" }), "Carl Agent (Agent)");
  assert.equal(nameWithRole({ name: "Jeanne Dupont", role: "guest" }), "Jeanne Dupont");
  assert.equal(roleLabel("moderator"), "");
  assert.equal(roleLabel(undefined), "");
});
