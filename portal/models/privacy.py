"""The audit trail of what was done with a citizen's data (portal/citizendata.py).

A line says who searched, exported or erased what they found about a phone number or an
email address, in which structure, when, and how many rows. It keeps no address in clear:
only a keyed digest of it (HMAC with SECRET_KEY), enough to answer "was this number's data
erased, and by whom?" when the citizen asks again.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.models.structures import Structure


class CitizenDataAudit(models.Model):
    class Action(models.TextChoices):
        SEARCH = "search", _("search")
        EXPORT_JSON = "export_json", _("export (JSON)")
        EXPORT_CSV = "export_csv", _("export (CSV)")
        ERASE = "erase", _("erase")

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("by"))
    username = models.CharField(_("user name"), max_length=150)  # kept if the account goes
    structure = models.ForeignKey(Structure, on_delete=models.CASCADE, related_name="+", verbose_name=_("structure"))
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    term_kind = models.CharField(_("searched by"), max_length=8)  # "phone" or "email"
    term_digest = models.CharField(_("digest of what was searched"), max_length=64, db_index=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("citizen data audit line")
        verbose_name_plural = _("citizen data audit lines")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} ({self.term_kind})"
