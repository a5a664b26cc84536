"""`{% modulepreload %}` names the whole module graph of the citizen pages (issue 21, item 1)."""

from __future__ import annotations

import re
from pathlib import Path

from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from portal.templatetags.modules import imports_of, module_graph

JS = Path(__file__).resolve().parents[2] / "rooms" / "static" / "rooms" / "js"


def test_the_graph_is_every_module_the_room_page_loads():
    graph = module_graph("rooms/js/room.js")
    # Every module the entry imports directly, and theirs (e.g. i18n.js through dom.js's users).
    direct = {f"rooms/js/{name.removeprefix('./')}" for name in imports_of((JS / "room.js").read_text())}
    assert direct <= set(graph)
    for path in graph:
        for name in imports_of((JS / Path(path).name).read_text()):
            assert f"rooms/js/{name.removeprefix('./')}" in graph or name == "./room.js"
    assert "rooms/js/room.js" not in graph and len(graph) == len(set(graph))


def test_the_tag_writes_one_link_per_module_with_the_pages_nonce(settings):
    html = Template('{% load modules %}{% modulepreload "rooms/js/prejoin.js" %}').render(
        Context({"csp_nonce": "abc123"}))
    links = re.findall(r'<link rel="modulepreload" href="([^"]+)" nonce="abc123">', html)
    assert links and len(links) == len(module_graph("rooms/js/prejoin.js"))
    assert all(link.startswith(settings.STATIC_URL) and link.endswith(".js") for link in links)


def test_imports_of_reads_static_imports_only():
    source = 'import { a } from "./a.js";\nimport "./b.js";\nexport { c } from "../c.js";\n' \
             'const x = await import("./dynamic.js");\n// import nothing from "./comment"\nimport x from "https://cdn/x.js";'
    assert imports_of(source) == ["./a.js", "./b.js", "../c.js"]


@given(st.text(max_size=300))
def test_imports_of_any_text_gives_relative_js_paths_only(text):
    for path in imports_of(text):
        assert path.startswith(("./", "../")) and path.endswith(".js") and not any(c in path for c in "'\"\n ")
