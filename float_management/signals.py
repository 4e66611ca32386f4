"""Domain events, sent after commit (never before, never on a rollback).

The dashboard listens to them; nothing here knows who listens.
"""

from django.dispatch import Signal

# sender=Transfer class; transfer=Transfer
transfer_posted = Signal()
# sender=TillSession class; session=TillSession
session_changed = Signal()
# sender=Request class; request=Request
request_raised = Signal()
# sender=Request class; request=Request, decision=Decision
request_decided = Signal()
