"""Appointment events, sent only after the transaction commits.

Other apps (notifications, live day view) subscribe to these; the portal never imports
them directly, and nothing is queued for a change that was rolled back.
"""

from django.dispatch import Signal

# Each is sent with sender=Appointment and `appointment=<Appointment>`.
booked = Signal()
rescheduled = Signal()  # also with `previous_start=<datetime>`
cancelled = Signal()
# The citizen's email or phone was corrected: also with `previous={"citizen_email": old, …}`
# (only the fields that changed).
contact_changed = Signal()
