"""The agencies app's own events, sent inside the transaction that makes them.

Receivers run in that transaction: what they write commits or rolls back with it.
"""

from django.dispatch import Signal

# sender=Notification class; notification=Notification (its status now "refused"), code=str
# (the agency's reason). Sent by the outbox when an agency's system refuses a payment for
# good (the bill was already paid or changed): the citizen's money is owed back.
payment_refused = Signal()

# sender=Notification class; notification=Notification (as saved), branch_id=int (its
# payment's branch; optional: without it the receiver reads it). Unlike payment_refused,
# sent AFTER commit (transaction.on_commit) by the outbox worker whenever a notification's
# status or attempts change (delivered, unknown, acknowledged, refused, retried): the
# boards count the outbox per agency (dashboard.receivers) and must not show a rolled-back
# change. A new notification needs no signal: the payment's or void's transfer pushes.
notification_changed = Signal()
