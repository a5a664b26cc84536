"""`{% js_catalog_url %}`: the current language's JavaScript translation catalog (issue 21, item 1).

The citizen pages' own JavaScript is one module per page (rooms/static/rooms/dist, built by
`npm run build`, bundle.mjs): nothing to preload beyond the page's script tag.
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def js_catalog_url() -> str:
    """The current language's translation catalog, at its cacheable URL (portal/jscatalog.py)."""
    from django.utils.translation import get_language

    from portal.jscatalog import catalog_url

    return catalog_url(get_language())
