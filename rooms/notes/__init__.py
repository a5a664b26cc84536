"""Shared notes of an appointment (issue 17): a Yjs document edited together in the room.

`crdt` is the document itself (pycrdt, no Django), `models` what is kept with the
appointment, `store` the database side the consumer calls, `templates` the starting text a
manager defines per subject, `text` the light structure (headings, lists, checkboxes) read
from plain text for the summary page and its PDF.
"""
