"""The channel-layer groups of the dashboards and which of them an event touches."""

from __future__ import annotations

NATION = "nation"


def branch_group(branch_id: int) -> str:
    return f"branch.{branch_id}"


def governorate_group(governorate_id: int) -> str:
    return f"governorate.{governorate_id}"


def groups_for_branch(branch_id: int, governorate_id: int) -> list[str]:
    return [branch_group(branch_id), governorate_group(governorate_id), NATION]


def parse(group: str) -> tuple[str, int | None]:
    kind, _, ident = group.partition(".")
    return kind, int(ident) if ident else None
