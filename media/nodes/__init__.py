"""Media nodes: engine processes that announce their load in Redis and serve rooms.

- `registry.NodeRegistry`: load announcements, liveness, room placement (Redis).
- `node.MediaNode`: runs a MediaEngine and answers commands from a channel layer.
- `commands`: the command and reply shapes both sides speak.
- `eventloop.run`: the node process's loop, uvloop unless turned off (MEDIA_UVLOOP=0).

No Django import: the Django side (rooms/mediabridge.py) and the `medianode` management
command are thin edges around these.
"""
