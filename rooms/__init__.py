"""Rooms: one password-locked video room per appointment, the lobby and the in-room UI."""
