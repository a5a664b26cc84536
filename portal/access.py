"""Who may see and do what: every right comes from a Membership (or being superuser).

Plain functions over the user's memberships, cached on the user object for the request,
so admin lists and permission checks cost one query whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from portal.models.structures import Membership, Role

EDITORS = frozenset({Role.AGENT, Role.MANAGER})
VIEWERS = frozenset({Role.AGENT, Role.MANAGER, Role.HELPDESK})
_CACHE = "_gv_roles"


def roles(user) -> dict[int, str]:
    """{structure_id: role} for an authenticated user (cached on the user object)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = dict(Membership.objects.filter(user=user, active=True).values_list("structure_id", "role"))
        setattr(user, _CACHE, cached)
    return cached


def structure_ids(user, allowed: Iterable[str] = VIEWERS) -> set[int]:
    allowed = set(allowed)
    return {sid for sid, role in roles(user).items() if role in allowed}


def has_role(user, allowed: Iterable[str] = VIEWERS, structure_id: int | None = None) -> bool:
    """True if the user holds one of `allowed` roles (in `structure_id`, or anywhere)."""
    if getattr(user, "is_superuser", False):
        return True
    if structure_id is None:
        return bool(structure_ids(user, allowed))
    return roles(user).get(structure_id) in set(allowed)


def scope(queryset: QuerySet, user, field: str = "structure", allowed: Iterable[str] = VIEWERS) -> QuerySet:
    """Restrict `queryset` to rows whose `field` is one of the user's structures."""
    if getattr(user, "is_superuser", False):
        return queryset
    return queryset.filter(**{f"{field}__in": structure_ids(user, allowed)})


def is_member(user_id: int, structure_id: int, allowed: Iterable[str] = EDITORS) -> bool:
    return Membership.objects.filter(user_id=user_id, structure_id=structure_id, role__in=list(allowed),
                                     active=True).exists()
