"""What the rooms tell the apps above them (rooms never import the portal's actions).

`meeting_ended` is sent, inside the transaction, when an agent ends the call for everyone
(presence.end_meeting); the portal marks the appointment done and closes the room
(portal/booking.py `end`, connected in portal/apps.py).
"""

from django.dispatch import Signal

meeting_ended = Signal()  # sender=Room, room=<Room>
