"""`{% modulepreload "rooms/js/room.js" %}`: a `<link rel="modulepreload">` for every module
the entry module imports, directly or not (issue 21, item 1).

Without it the browser learns of `panels.js` only once `room.js` has arrived and been parsed,
then of their imports one round trip later: the room page's twelve-odd modules came in three
or four waves. With the whole graph named in the head, they are all requested at once. The
graph is read from the static files themselves (static `import … from "./x.js"` only), so a
new module is preloaded without anyone listing it.
"""

from __future__ import annotations

import functools
import posixpath
import re
from pathlib import Path

from django import template
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join

register = template.Library()

# `import {a} from "./x.js"`, `import "./x.js"`, `export {a} from "./x.js"`: relative paths only.
IMPORT = re.compile(r"""^\s*(?:import|export)\b[^'"`;]*?['"](\.{1,2}/[^'"\s]+\.js)['"]""", re.M)


def imports_of(source: str) -> list[str]:
    """The relative module paths a module's static imports name, in order."""
    return list(dict.fromkeys(IMPORT.findall(source)))


def _source(path: str) -> Path:
    found = finders.find(path)
    if not found:
        raise template.TemplateSyntaxError(f"modulepreload: no static file {path!r}")
    return Path(found if isinstance(found, str) else found[0])


@functools.lru_cache(maxsize=64)
def _graph(entry: str, stamp: tuple[float, ...]) -> tuple[str, ...]:
    del stamp  # part of the cache key only: a changed file reads the graph again
    seen: dict[str, None] = {}
    todo = [entry]
    while todo:
        path = todo.pop(0)
        for relative in imports_of(_source(path).read_text(encoding="utf-8")):
            dependency = posixpath.normpath(posixpath.join(posixpath.dirname(path), relative))
            if dependency not in seen and dependency != entry:
                seen[dependency] = None
                todo.append(dependency)
    return tuple(seen)


def module_graph(entry: str) -> tuple[str, ...]:
    """Every static path `entry` imports, transitively, breadth first (the entry excluded)."""
    folder = _source(entry).parent
    stamp = tuple(sorted(p.stat().st_mtime for p in folder.rglob("*.js")))
    return _graph(entry, stamp)


@register.simple_tag(takes_context=True)
def modulepreload(context: template.Context, entry: str) -> str:
    nonce = context.get("csp_nonce", "")
    return format_html_join(
        "\n", '<link rel="modulepreload" href="{}"{}>',
        ((static(path), format_html(' nonce="{}"', nonce) if nonce else "") for path in module_graph(entry)),
    )


@register.simple_tag
def js_catalog_url() -> str:
    """The current language's translation catalog, at its cacheable URL (portal/jscatalog.py)."""
    from django.utils.translation import get_language

    from portal.jscatalog import catalog_url

    return catalog_url(get_language())
