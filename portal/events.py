"""Appointment events, sent inside the action's transaction.

Other apps (notifications) subscribe to these; the portal never imports them directly.
A receiver writes its rows in the same transaction (a rolled-back action leaves none, a
committed one always has them) and defers anything outside the database (queueing a
task, a network call) with `transaction.on_commit`, so nothing leaves for a change that
was rolled back.
"""

from django.dispatch import Signal

# Each is sent with sender=Appointment and `appointment=<Appointment>`.
booked = Signal()
rescheduled = Signal()  # also with `previous_start=<datetime>`
cancelled = Signal()
# The citizen's email or phone was corrected: also with `previous={"citizen_email": old, …}`
# (only the fields that changed).
contact_changed = Signal()
channel_chosen = Signal()  # the citizen chose email or SMS for the remaining messages (their page)
