"""Starting notes: the structure's template for the appointment's subject (manager-defined)."""

from __future__ import annotations

from rooms.notes.models import NotesTemplate

# What the agent's "checklist" button inserts (rooms/static/rooms/js/notes.js has the same
# markers): plain text that the summary page and the PDF show as boxes.
CHECKBOX = "- [ ] "
CHECKED = "- [x] "


def starting_text(appointment) -> str:
    """The template whose subject is the appointment's (case and outer spaces ignored), else
    the structure's template without subject, else nothing."""
    templates = dict(NotesTemplate.objects.filter(structure_id=appointment.structure_id).values_list("subject", "text"))
    wanted = appointment.subject.strip().casefold()
    for subject, text in templates.items():
        if subject.strip() and subject.strip().casefold() == wanted:
            return text.replace("\r\n", "\n")
    return templates.get("", "").replace("\r\n", "\n")
