"""System checks of the rooms app, the media-facing edge.

The media engine relies on private internals of the pinned aiortc/aioice
(media/engine/aiortc_hooks.py). Checking them here makes `manage.py check`,
`check --deploy`, `migrate` and `medianode` fail on a mismatched upgrade, before any
browser reaches the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error


def media_contract(*, app_configs: Sequence[AppConfig] | None, databases: Sequence[str] | None = None,
                   **kwargs: Any) -> list[CheckMessage]:
    # Imported here: only a process that runs the checks pays for importing aiortc.
    from media.engine import ContractError
    from rooms.mediabridge import check_media_contract

    try:
        check_media_contract()
    except ContractError as error:
        return [Error(str(error), id="rooms.E001",
                      hint="Install the aiortc and aioice versions pinned in requirements.txt, or update "
                           "media/engine/aiortc_hooks.py and its contract for the new ones.")]
    return []
