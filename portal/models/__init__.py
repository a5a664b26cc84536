from portal.models.appointments import Appointment, Channel, Status
from portal.models.structures import Membership, Role, Structure

__all__ = ["Appointment", "Channel", "Membership", "Role", "Status", "Structure"]
