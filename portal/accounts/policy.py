"""Who must sign in with a second factor.

Everyone with back-office access, by default. Roles that see identity-check results
(agents and managers: they moderate calls) and superusers can never be exempted; a
structure may exempt only its helpdesk accounts (`Structure.helpdesk_second_factor`).
"""

from __future__ import annotations

from portal.models import Membership, Role

# Roles whose members see ID-check results and citizens' data in calls: always a second factor.
ALWAYS = frozenset({Role.AGENT, Role.MANAGER})


def requires_second_factor(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    memberships = list(Membership.objects.filter(user=user, active=True)
                       .values_list("role", "structure__helpdesk_second_factor"))
    if not memberships:
        return bool(user.is_staff)  # staff without a role yet: secure by default
    return any(role in ALWAYS or helpdesk_flag for role, helpdesk_flag in memberships)
