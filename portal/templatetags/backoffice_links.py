"""Links of the back-office home page to the statistics and a citizen's data, for the roles
that may open them."""

from __future__ import annotations

from django import template

from portal import access
from portal.models import Role

register = template.Library()


@register.simple_tag(takes_context=True)
def may_open(context, page: str) -> bool:
    user = context["request"].user
    allowed = {"statistics": {Role.MANAGER}, "citizen_data": {Role.MANAGER, Role.HELPDESK}}[page]
    return access.has_role(user, allowed)
