"""Every write of the till's day and the branch vault, by concern.

- `till`: the agent's session (opening float, top-ups, cash drops, the closing count);
- `vault`: cash between the bank and the branch vault, with its witness;
- `approvals`: the four-eyes queue, and the handlers other apps register on it.

Each public function is one transaction (retried on deadlock), takes plain
keyword arguments, and raises a DomainError whose message a person can read.
Money-moving functions take an idempotency key. Everything public is
re-exported here: `from float_management import services` and
`from float_management.services import X` keep working.
"""

from float_management.selectors import WARNING_PERCENT, till_state
from float_management.services.approvals import (
    APPROVAL_HANDLERS,
    REJECTION_HANDLERS,
    request_decide,
)
from float_management.services.till import (
    cash_drop,
    ensure_cash_intake_allowed,
    ensure_session_open,
    float_request_top_up,
    till_session_open_locked,
    till_session_request_open,
    till_session_submit_count,
)
from float_management.services.vault import vault_move, vault_move_cancel, vault_move_confirm

__all__ = [
    "APPROVAL_HANDLERS",
    "REJECTION_HANDLERS",
    "WARNING_PERCENT",
    "cash_drop",
    "ensure_cash_intake_allowed",
    "ensure_session_open",
    "float_request_top_up",
    "request_decide",
    "till_session_open_locked",
    "till_session_request_open",
    "till_session_submit_count",
    "till_state",
    "vault_move",
    "vault_move_cancel",
    "vault_move_confirm",
]
