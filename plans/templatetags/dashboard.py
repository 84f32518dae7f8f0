"""Template helpers of the pages: status badges, "Why?" explanations, progress bars, numbers and query strings.

Every status word and explanation comes from plans.explain.
"""

from django import template
from django.utils.translation import gettext as _

from plans.explain import explain_item, fmt_number, fmt_percent, status_label
from plans.explain import kpi_outcome as explain_kpi_outcome
from plans.rollup import METHOD_VERSION

register = template.Library()


@register.inclusion_tag("includes/status_badge.html")
def status_badge(status):
    """Colour, icon and word (never colour alone); an empty status reads "Not computed"."""
    return {"status": status or "", "label": status_label(status) if status else ""}


@register.inclusion_tag("plans/dashboard/_progress.html")
def progress_bar(share, label=""):
    """A labelled progress bar for a share in [0, 1]; None shows a dash."""
    if share is None:
        return {"share": None, "label": label}
    share = min(max(float(share), 0.0), 1.0)
    return {"share": share, "percent": round(share * 100), "text": fmt_percent(share), "label": label or _("Progress")}


@register.filter
def num(value, places=2):
    """A number rounded for reading (2 decimals by default, trailing zeros dropped), localised."""
    return fmt_number(value, int(places))


@register.filter
def pct(value):
    """A share of one as a whole percentage: 0.42 -> 42%."""
    return fmt_percent(value)


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with ``changes`` applied; an empty value drops the key.

    ``{% query_with kpi_page=3 %}`` keeps the as-of date and the filters of a shared URL.
    """
    query = context["request"].GET.copy()
    for key, value in changes.items():
        if value in ("", None):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def page_url(context, param, number):
    return query_with(context, **{param: number})


@register.simple_tag
def why_of(item, as_of):
    """``{% why_of kpi as_of.date as why %}``: the plain-words explanation of a row."""
    return explain_item(item, as_of)


@register.simple_tag
def kpi_outcome(kpi, as_of, today):
    """``{% kpi_outcome kpi as_of.date today as outcome %}``: forecast, final figure or final figure overdue."""
    return explain_kpi_outcome(kpi, as_of, today)


@register.simple_tag
def current_method_version():
    """The version of shared/METHOD.md that the next recompute applies (plans.rollup.METHOD_VERSION)."""
    return METHOD_VERSION
