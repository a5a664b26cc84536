from portal.models.accounts import Invitation, InvitationState, ResetRequest, TrustedBrowser, UserSession
from portal.models.appointments import Appointment, Channel, Status
from portal.models.heartbeats import Heartbeat
from portal.models.privacy import CitizenDataAudit
from portal.models.requests import ChangeRequest, Slot
from portal.models.statistics import WeeklyCount
from portal.models.structures import Membership, Role, Structure

__all__ = [
    "Appointment", "ChangeRequest", "Channel", "CitizenDataAudit", "Heartbeat", "Invitation", "InvitationState",
    "Membership", "ResetRequest", "Role", "Slot", "Status", "Structure", "TrustedBrowser", "UserSession", "WeeklyCount",
]
