// ESLint (flat config) for the browser code: `npm run lint`. The modules are served to
// browsers bundled by esbuild (bundle.mjs, `npm run build`) into rooms/static/rooms/dist;
// tests/js runs the pure ones under Node's test runner.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    // Vendored or generated: not ours to lint.
    ignores: [".venv/", "var/", "staticfiles/", "tests/e2e/vendor/", "**/*.min.js", "rooms/static/rooms/dist/"],
  },
  js.configs.recommended,
  {
    files: ["rooms/static/**/*.js", "portal/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, gettext: "readonly", ngettext: "readonly", interpolate: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrors: "none" }],
      "no-var": "error",
      "prefer-const": "error",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      "no-shadow": "error",
    },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js", "bundle.mjs"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
