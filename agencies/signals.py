"""The agencies app's own events, sent inside the transaction that makes them.

Receivers run in that transaction: what they write commits or rolls back with it.
"""

from django.dispatch import Signal

# sender=Notification class; notification=Notification (its status now "refused"), code=str
# (the agency's reason). Sent by the outbox when an agency's system refuses a payment for
# good (the bill was already paid or changed): the citizen's money is owed back.
payment_refused = Signal()
