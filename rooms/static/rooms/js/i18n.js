// Translations come from Django's JavaScriptCatalog (loaded before the modules);
// source strings are English, French is the default language of the page.
const g = globalThis;

export const _ = (msgid) => (g.gettext ? g.gettext(msgid) : msgid);

// "%(name)s joined" with {name: "Ana"} → "Ana joined".
export function fmt(msgid, values) {
  const text = _(msgid);
  return g.interpolate ? g.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_m, k) => values[k]);
}
