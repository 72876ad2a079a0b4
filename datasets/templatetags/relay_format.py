"""Template filters for times the way annotators read them."""

from django import template

register = template.Library()


@register.filter
def duration(ms) -> str:
    """61_500 → '1:01.5'; 3_723_000 → '1:02:03.0'; None → '—'."""
    if ms in (None, ""):
        return "—"
    total = int(ms) / 1000
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours >= 1:
        return f"{int(hours)}:{int(minutes):02d}:{seconds:04.1f}"
    return f"{int(minutes)}:{seconds:04.1f}"
