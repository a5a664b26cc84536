// Translations come from Django's JavaScriptCatalog (loaded before the modules); source
// strings are English, French is the default language of the page. The names `_` and
// `ngettext` are the ones `makemessages -d djangojs` extracts.
const g = globalThis;

export const _ = (msgid) => (g.gettext ? g.gettext(msgid) : msgid);

export const ngettext = (singular, plural, n) =>
  g.ngettext ? g.ngettext(singular, plural, n) : n === 1 ? singular : plural;

// fmt(_("%(name)s joined"), {name: "Ana"}) → "Ana joined".
export function fmt(text, values) {
  return g.interpolate ? g.interpolate(text, values, true) : text.replace(/%\((\w+)\)s/g, (_m, k) => values[k]);
}
