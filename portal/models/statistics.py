"""The structures' statistics, stored as counters (portal/stats/counters.py fills and reads them).

Each ended appointment is counted once into the counters of the week of its start (in the
structure's time zone) and of its agent; the statistics page then reads a few aggregates
of this table whatever the number of appointments, and the counters hold no personal data,
so they outlive the retention purge.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models.structures import Structure


class WeeklyCount(models.Model):
    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, related_name="+", verbose_name=_("structure"))
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("agent"))
    week = models.DateField(_("week (Monday)"))
    metric = models.CharField(_("metric"), max_length=40)
    value = models.BigIntegerField(_("value"), default=0)

    class Meta:
        verbose_name = _("weekly counter")
        verbose_name_plural = _("weekly counters")
        # The upsert's arbiter (portal/stats/counters.py). Counting always has an agent (an
        # appointment's is required); rows left without one by a deleted account are summed.
        constraints = [models.UniqueConstraint(fields=["structure", "agent", "week", "metric"],
                                               name="one_weekly_count")]
        indexes = [models.Index(fields=["structure", "week"], name="weekly_count_structure_week")]

    def __str__(self) -> str:
        return f"{self.structure_id} {self.week} {self.agent_id} {self.metric}={self.value}"
