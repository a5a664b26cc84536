"""The agent back-office, in Django's admin, scoped to each user's structures."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from portal.admin import appointments, notes, structures, users  # noqa: F401  (registrations)

admin.site.site_header = _("Guichet Visio — back-office")
admin.site.site_title = _("Guichet Visio")
admin.site.index_title = _("Appointments and rooms")
