"""What a push sends: the parts of a board that changed since the last push to its group.

A thousand boards receiving the whole 7 kB board every second cost daphne most of
a core; a payment changes a few figures and one row. The board templates mark
their parts (`<!--part-->…<!--/part-->`, each one element with an id: the
totals, a table row, a list). The last board pushed to each group is kept in the
cache, shared by every process that pushes, under a sequence number. A push
sends the parts whose HTML changed, naming the number it follows:

    <template data-seq="K" data-base="J"><template>part</template>…</template>

A board applies it only on top of board J (static/js/dashboard.js); any other
board asks its socket for the whole board, which the consumer sends from the
same cache entry, as it does on connect (`data-seq` and no `data-base`). A
missed or reordered push thus costs a whole board, never a wrong figure. Each
part travels in its own <template> so that table rows parse outside a table.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TypedDict

from django.core.cache import cache

_PART = re.compile(r"<!--part-->(.*?)<!--/part-->", re.DOTALL)
_ID = re.compile(r'<[a-z]+[^>]*?\sid="([^"]+)"')
TIMEOUT = 24 * 3600  # a board nobody pushed to for a day is rendered afresh on connect


class Last(TypedDict):
    seq: int
    html: str


def cache_key(group: str) -> str:
    return f"dashboard:board:{group}"


def split(html: str) -> tuple[str, dict[str, str]]:
    """The board without its parts (each replaced by its id), and its parts by id."""
    parts: dict[str, str] = {}

    def take(match: re.Match[str]) -> str:
        part = match.group(1).strip()
        found = _ID.match(part)
        if found is None:
            raise ValueError(f"a board part has no id: {part[:80]!r}")
        parts[found.group(1)] = part
        return f"<!--part:{found.group(1)}-->"

    return _PART.sub(take, html), parts


def whole(last: Last) -> str:
    return f'<template data-seq="{last["seq"]}"><template>{last["html"]}</template></template>'


def _changes(html: str, last: Last | None) -> list[str] | None:
    """The changed parts of `html` since `last`, or None when only the whole board will do."""
    if last is None:
        return None
    skeleton, parts = split(html)
    last_skeleton, last_parts = split(last["html"])
    if skeleton != last_skeleton:  # rows came or went, a section appeared: no part to swap
        return None
    return [part for name, part in parts.items() if last_parts.get(name) != part]


def _fresh_seq() -> int:
    # Unlike a counter restarting at 1, never a number a board may still hold after the
    # cache lost its entries.
    return time.time_ns() // 1_000_000


def record(boards: dict[str, str]) -> dict[str, str]:
    """The message for each group of freshly rendered `boards`, recorded as the groups' last.

    A group whose board did not change gets no message. The caller holds the lock
    of the board's pushes: two pushes building on the same last board would both
    claim the next number.
    """
    lasts: dict[str, Last] = cache.get_many([cache_key(group) for group in boards])
    messages: dict[str, str] = {}
    recorded: dict[str, Last] = {}
    for group, html in boards.items():
        last = lasts.get(cache_key(group))
        changed = _changes(html, last)
        if changed == []:
            continue
        seq = _fresh_seq() if last is None else last["seq"] + 1
        recorded[cache_key(group)] = Last(seq=seq, html=html)
        if changed is None:
            messages[group] = whole(recorded[cache_key(group)])
        else:
            wrapped = "".join(f"<template>{part}</template>" for part in changed)
            messages[group] = (
                f'<template data-seq="{seq}" data-base="{last["seq"]}">{wrapped}</template>'
            )
    cache.set_many(recorded, timeout=TIMEOUT)
    return messages


def forget(groups: list[str]) -> None:
    """Pushes skip groups nobody watches: their last board is then outdated, so drop it."""
    cache.delete_many([cache_key(group) for group in groups])


def last_or(group: str, render: Callable[[], str]) -> Last:
    """The last board pushed to `group`; if there is none, `render()` recorded as the first."""
    last = cache.get(cache_key(group))
    if last is not None:
        return last
    fresh = Last(seq=_fresh_seq(), html=render())
    if cache.add(cache_key(group), fresh, timeout=TIMEOUT):
        return fresh
    # A push recorded its board meanwhile: the next diff builds on that one.
    return cache.get(cache_key(group)) or fresh
