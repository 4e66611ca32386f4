"""The scope helpers the report pages and the boards share (agents/permissions.py)."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from agents.models import Governorate
from agents.permissions import (
    can_see_governorate,
    national_only,
    own_rows_for_agents,
    regional_or_national,
    scoped_governorates,
)
from float_management.models import TillSession


def test_each_person_sees_the_governorates_of_their_scope(personas, branch_a, branch_b):
    a, b = branch_a.governorate, branch_b.governorate
    seen = {
        name: set(scoped_governorates(user, Governorate.objects.filter(pk__in=[a.pk, b.pk])))
        for name, user in personas.items()
    }
    assert seen["regional_a"] == {a}
    assert seen["regional_other"] == {b}
    assert seen["head_office"] == seen["auditor"] == {a, b}
    assert seen["agent_a"] == seen["agent_b"] == seen["supervisor_a"] == set()
    for name, user in personas.items():
        assert {g for g in (a, b) if can_see_governorate(user, g)} == seen[name], name


def test_an_agent_reads_only_their_own_rows_and_others_by_scope(personas, open_till):
    sessions = TillSession.objects.all()
    assert list(own_rows_for_agents(personas["agent_a"], sessions)) == [open_till]
    assert not own_rows_for_agents(personas["agent_b"], sessions).exists()
    for name in ("supervisor_a", "regional_a", "head_office", "auditor"):
        assert list(own_rows_for_agents(personas[name], sessions)) == [open_till], name


def _page(request):
    return HttpResponse("ok")


@pytest.mark.parametrize(
    ("decorator", "allowed"),
    [
        (national_only, {"head_office", "auditor"}),
        (regional_or_national, {"head_office", "auditor", "regional_a", "regional_other"}),
    ],
)
def test_the_page_decorators_let_in_only_their_roles(rf, personas, decorator, allowed):
    view = decorator(_page)
    anonymous = rf.get("/")
    anonymous.user = AnonymousUser()
    assert view(anonymous).status_code == 302  # to the login page
    for name, user in personas.items():
        request = rf.get("/")
        request.user = user
        if name in allowed:
            assert view(request).status_code == 200, name
        else:
            with pytest.raises(PermissionDenied):
                view(request)
