from portal.models.accounts import Invitation, InvitationState, ResetRequest, TrustedBrowser, UserSession
from portal.models.appointments import Appointment, Channel, Status
from portal.models.heartbeats import Heartbeat
from portal.models.requests import ChangeRequest, Slot
from portal.models.structures import Membership, Role, Structure

__all__ = [
    "Appointment", "ChangeRequest", "Channel", "Heartbeat",
    "Invitation",
    "InvitationState", "Membership",
    "ResetRequest",
    "Role",
    "Slot",
    "Status",
    "Structure",
    "TrustedBrowser",
    "UserSession",
]
