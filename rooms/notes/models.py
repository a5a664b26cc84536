"""What the notes keep, each row tied to its appointment (deleted with it; the retention
purge of issue 18 deletes NotesDocument rows of appointments past their structure's
retention). NotesTemplate is a structure's wording, no personal data."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from rooms.notes.crdt import MAX_TEXT


class NotesDocument(models.Model):
    """The appointment's shared notes: the Yjs document's whole state (rooms/notes/crdt.py)
    and its text, kept in step at every update (search, back-office, summary)."""

    appointment = models.OneToOneField(
        "portal.Appointment", on_delete=models.CASCADE, related_name="notes", verbose_name=_("appointment")
    )
    state = models.BinaryField(_("document state"), editable=False)
    text = models.TextField(_("notes"), blank=True, editable=False)
    guests_read_only = models.BooleanField(_("read-only for guests"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("shared notes")
        verbose_name_plural = _("shared notes")

    def __str__(self) -> str:
        return str(_("Notes of appointment %(id)s") % {"id": self.appointment_id})


class NotesTemplate(models.Model):
    """Starting notes a manager defines for the structure's appointments on a subject (an
    empty subject: every other subject)."""

    structure = models.ForeignKey(
        "portal.Structure", on_delete=models.CASCADE, related_name="notes_templates", verbose_name=_("structure")
    )
    subject = models.CharField(
        _("appointment subject"), max_length=200, blank=True,
        help_text=_("The notes of appointments with this subject start with this text (case ignored). "
                    "Empty: appointments whose subject has no template of its own."),
    )
    text = models.TextField(
        _("starting notes"), max_length=MAX_TEXT,
        help_text=_("Plain text. Lines starting with '# ' are headings, '- ' list items, '- [ ] ' boxes to tick."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notes template")
        verbose_name_plural = _("notes templates")
        constraints = [models.UniqueConstraint(fields=["structure", "subject"], name="one_notes_template_per_subject")]

    def __str__(self) -> str:
        return self.subject or str(_("(any subject)"))
