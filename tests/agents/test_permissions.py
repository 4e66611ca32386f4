import pytest
from django.http import Http404

from agents.models import Branch, Profile, Role
from agents.permissions import Action, can, get_scoped_or_404, scope_of, visible_branches


def test_scope_of_anonymous_has_no_role():
    from django.contrib.auth.models import AnonymousUser

    assert scope_of(AnonymousUser()).role is None


def test_only_branch_supervisors_approve_and_only_in_their_branch(
    supervisor_a, agent_a, head_office, auditor, branch_a, branch_b
):
    assert can(supervisor_a, Action.APPROVE, branch_a)
    assert not can(supervisor_a, Action.APPROVE, branch_b)
    assert not can(agent_a, Action.APPROVE, branch_a)
    assert not can(head_office, Action.APPROVE, branch_a)
    assert not can(auditor, Action.APPROVE, branch_a)


def test_auditors_see_everything_and_operate_nothing(auditor, branch_a, branch_b):
    assert can(auditor, Action.VIEW, branch_a) and can(auditor, Action.VIEW, branch_b)
    for action in (Action.OPERATE_COUNTER, Action.APPROVE, Action.MANAGE_VAULT, Action.SETTLE):
        assert not can(auditor, action, branch_a)


def test_get_scoped_or_404_hides_other_branches(agent_a, branch_a, branch_b):
    qs = Branch.objects.all()
    assert get_scoped_or_404(agent_a, qs, branch_path="", pk=branch_a.pk) == branch_a
    with pytest.raises(Http404):
        get_scoped_or_404(agent_a, qs, branch_path="", pk=branch_b.pk)


def test_visible_branches_for_each_role(personas, branch_a, branch_b):
    seen = {
        name: set(visible_branches(u).values_list("code", flat=True))
        for name, u in personas.items()
    }
    assert seen["agent_a"] == {"A0001"}
    assert seen["agent_b"] == {"B0001"}
    assert seen["supervisor_a"] == {"A0001"}
    assert seen["regional_a"] == {"A0001"}
    assert seen["regional_other"] == {"B0001"}
    assert seen["head_office"] == seen["auditor"] == {"A0001", "B0001"}


def test_the_database_refuses_a_scope_that_does_not_fit_the_role(db, django_user_model, branch_a):
    from django.db import IntegrityError, transaction

    user = django_user_model.objects.create_user("misfit")
    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.create(user=user, role=Role.HEAD_OFFICE, branch=branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Profile.objects.create(user=user, role=Role.AGENT)
