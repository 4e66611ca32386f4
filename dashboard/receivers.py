"""Listen to the domain signals (sent after commit) and mark dashboards dirty."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.dispatch import receiver

from agents.models import Branch
from dashboard import live
from dashboard.groups import NATION, groups_for_branch
from float_management import signals


@lru_cache(maxsize=8192)
def _governorate_of(branch_id: int) -> int:
    # A branch never moves governorate; cached so a payment costs no extra query here.
    return Branch.objects.values_list("governorate_id", flat=True).get(pk=branch_id)


def _touch(branch_id: int | None) -> None:
    if not getattr(settings, "DASHBOARD_PUSHES", True):
        return
    if branch_id is None:
        live.publish(NATION)
    else:
        live.publish(*groups_for_branch(branch_id, _governorate_of(branch_id)))


@receiver(signals.transfer_posted)
def on_transfer(sender, transfer, **kwargs):
    _touch(transfer.branch_id)


@receiver(signals.session_changed)
def on_session(sender, session, **kwargs):
    _touch(session.branch_id)


@receiver(signals.request_raised)
@receiver(signals.request_decided)
def on_request(sender, request, **kwargs):
    _touch(request.branch_id)
