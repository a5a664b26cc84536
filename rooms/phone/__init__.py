"""Joining a room by telephone through Twilio (issue 15).

- `twiml.py`: what the caller hears (TwiML built with the Twilio SDK), no I/O;
- `calls.py`: the call's life in the database: the code typed, the entry decision, the
  stream token (single use, short-lived, bound to the CallSid and the room);
- `views.py`: the voice and call-status webhooks (signature checked);
- `stream.py`: the Media Stream events, parsed and validated, no I/O;
- `consumers.py`: the Media Stream WebSocket: the phone participant in the lobby and the
  call; its audio goes through the media engine's phone leg (media/phone/).
"""
