"""Reads of prepaid cards shared by the card services and the counter's pages."""

from __future__ import annotations

from counter.models import PrepaidCard
from float_management.models import Request, RequestKind


def card_live_replacement(card_id: int) -> PrepaidCard:
    """The card now in use in place of `card_id`: itself, or the end of its replacements."""
    card = PrepaidCard.objects.select_related("account").get(pk=card_id)
    seen = {card.pk}
    while card.replaced_by_id is not None and card.replaced_by_id not in seen:
        card = PrepaidCard.objects.select_related("account").get(pk=card.replaced_by_id)
        seen.add(card.pk)
    return card


def card_pending_move(card: PrepaidCard) -> Request | None:
    """The balance move waiting for a supervisor, from the card `card` replaced."""
    replaced = getattr(card, "replaces", None)
    if replaced is None:
        return None
    return Request.objects.filter(
        kind=RequestKind.CARD_MOVE, subject_id=replaced.pk, decision__isnull=True
    ).first()
