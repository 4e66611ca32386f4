"""The HTML a group's dashboards show, rendered once per push for every member of the group."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation

from agents.models import Branch, Governorate
from dashboard import selectors
from dashboard.groups import parse


def render_board(
    group: str, *, language: str, can_approve: bool = False, can_audit: bool = False
) -> str:
    """The board fragment of `group` (branch.<id>, governorate.<id> or nation) in `language`.

    `can_audit` adds the links of the integrity alerts to the audit log, which
    only head office and auditors may open. What a push sends of it: dashboard.diffs.
    """
    kind, ident = parse(group)
    with translation.override(language):
        if kind == "branch":
            branch = Branch.objects.select_related("governorate").get(pk=ident)
            context = {"branch": branch, "board": selectors.branch_board(branch)}
            template = "dashboard/_branch_board.html"
        elif kind == "governorate":
            governorate = Governorate.objects.get(pk=ident)
            context = {
                "governorate": governorate,
                "board": selectors.governorate_board(governorate),
            }
            template = "dashboard/_governorate_board.html"
        else:
            context = {"board": selectors.nation_board()}
            template = "dashboard/_nation_board.html"
        # No request here: forms in pushed fragments post with the page's X-CSRFToken header.
        extra = {
            "can_approve": can_approve,
            "can_audit": can_audit,
            "csrf_token": "NOTPROVIDED",
        }
        return render_to_string(template, {**context, **extra})
