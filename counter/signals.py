"""The counter's domain events, sent after commit (never before, never on a rollback).

The dashboard listens to them; nothing here knows who listens.
"""

from django.dispatch import Signal

# sender=PrepaidCard class; card=PrepaidCard (locked at card.locked_branch_id by wrong PINs)
card_locked = Signal()
# sender=PrepaidCard class; card=PrepaidCard, branch_id=int (the post office that unlocked it)
card_unlocked = Signal()
# sender=Citizen class; citizen=Citizen (registered at citizen.registered_branch_id)
citizen_registered = Signal()
