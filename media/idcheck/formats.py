"""MRZ layouts this reader understands, keyed by their line geometry."""

from __future__ import annotations

from enum import StrEnum


class MrzFormat(StrEnum):
    """Document families, named after their MRZ geometry (lines x characters)."""

    TD1 = "TD1"  # 3x30: French ID card since 2021, residence permits
    TD3 = "TD3"  # 2x44: passports
    FR_ID_1988 = "FR_ID_1988"  # 2x36: French ID card issued 1988-2021

    @property
    def line_count(self) -> int:
        return 3 if self is MrzFormat.TD1 else 2

    @property
    def line_length(self) -> int:
        return {MrzFormat.TD1: 30, MrzFormat.TD3: 44, MrzFormat.FR_ID_1988: 36}[self]


def formats_for_line_count(count: int) -> tuple[MrzFormat, ...]:
    return tuple(f for f in MrzFormat if f.line_count == count)
