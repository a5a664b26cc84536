from portal.models.appointments import Appointment, Channel, Status
from portal.models.heartbeats import Heartbeat
from portal.models.privacy import CitizenDataAudit
from portal.models.requests import ChangeRequest, Slot
from portal.models.statistics import WeeklyCount
from portal.models.structures import Membership, Role, Structure

__all__ = ["Appointment", "ChangeRequest", "CitizenDataAudit", "Channel", "Heartbeat", "Membership", "Role", "Slot",
           "Status", "Structure", "WeeklyCount"]
