"""A till session moves only along its transitions; each refuses the wrong starting state."""

import pytest

from core.errors import InvalidState
from float_management.models import SessionStatus, TillSession


def _status(session: TillSession) -> str:
    return TillSession.objects.values_list("status", flat=True).get(pk=session.pk)


@pytest.mark.parametrize(
    "transition",
    [
        lambda s: s.open(),
        lambda s: s.reject_opening(),
        lambda s: s.reopen(),
        lambda s: s.close(counted=0, expected=0, variance=0),
    ],
)
def test_an_open_session_refuses_what_only_another_state_allows(open_till, transition):
    with pytest.raises(InvalidState):
        transition(open_till)
    assert open_till.status == _status(open_till) == SessionStatus.OPEN


def test_an_open_session_starts_closing_once(open_till, django_assert_num_queries):
    with django_assert_num_queries(1):
        open_till.start_closing()
    assert _status(open_till) == SessionStatus.CLOSING
    with pytest.raises(InvalidState):
        open_till.start_closing()


def test_a_closing_session_reopens_or_closes_with_its_figures(open_till):
    open_till.start_closing()
    open_till.reopen()
    assert _status(open_till) == SessionStatus.OPEN
    open_till.start_closing()
    open_till.close(counted=99_000, expected=100_000, variance=-1_000)
    open_till.refresh_from_db()
    assert open_till.status == SessionStatus.CLOSED and open_till.closed_at is not None
    assert (open_till.counted, open_till.expected, open_till.variance) == (99_000, 100_000, -1_000)
    with pytest.raises(InvalidState):
        open_till.reopen()
