from portal.models.appointments import Appointment, Channel, Status
from portal.models.heartbeats import Heartbeat
from portal.models.requests import ChangeRequest, Slot
from portal.models.structures import Membership, Role, Structure

__all__ = ["Appointment", "ChangeRequest", "Channel", "Heartbeat", "Membership", "Role", "Slot", "Status", "Structure"]
