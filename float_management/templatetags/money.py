from django import template

from core.money import format_amount

register = template.Library()


@register.filter
def egp(piastres: int | None) -> str:
    """1234550 -> "12,345.50" (pounds with piastres)."""
    return "" if piastres is None else format_amount(int(piastres))
