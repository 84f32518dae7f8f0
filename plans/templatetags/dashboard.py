"""Template helpers of the pages: status badges, "Why?" explanations, progress bars, numbers and query strings.

Every status word and explanation comes from plans.explain. The helpers a table calls on every row (badges,
progress bars, lazy "Why?" panels) build their HTML with ``format_html`` rather than a template each: a
template rendered per cell was most of a long page's cost.
"""

import functools
from urllib.parse import quote

from django import forms, template
from django.urls import get_script_prefix, reverse
from django.urls.resolvers import RFC3986_SUBDELIMS
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from plans.explain import explain_item, fmt_date, fmt_number, fmt_percent, status_label
from plans.explain import kpi_outcome as explain_kpi_outcome
from plans.rollup import METHOD_VERSION

register = template.Library()


@register.simple_tag
def status_badge(status):
    """Colour, icon and word (never colour alone); an empty status reads "Not computed"."""
    if not status:
        return format_html('<span class="status status-none">{}</span>', _("Not computed"))
    return format_html(
        '<span class="status status-{}"><span class="status-icon" aria-hidden="true"></span>{}</span>',
        status,
        status_label(status),
    )


@register.simple_tag
def progress_bar(share, label=""):
    """A labelled progress bar for a share in [0, 1]; None shows a dash."""
    if share is None:
        return format_html('<span class="muted" title="{}">—</span>', _("No progress yet"))
    share = min(max(float(share), 0.0), 1.0)
    return format_html(
        '<span class="progress-cell"><span class="progress" role="progressbar" aria-label="{}" aria-valuemin="0" '
        'aria-valuemax="100" aria-valuenow="{}"><span data-width="{}"></span></span>'
        '<span class="progress-text">{}</span></span>',
        label or _("Progress"),
        round(share * 100),
        round(share * 100),
        fmt_percent(share),
    )


@register.simple_tag
def select_field(field):
    """A filter's ``<select>`` as ``{{ field }}`` renders it (same attributes, same selected option), without the
    form renderer's template per option, and its choices read in one plain query (Django's model choices use a
    server-side cursor: three round trips). Any other widget renders as usual."""
    widget = field.field.widget
    if type(widget) is not forms.Select:
        return field.as_widget()
    attrs = {**widget.attrs, **field.build_widget_attrs({}, widget)}
    if field.auto_id and "id" not in widget.attrs:
        attrs["id"] = field.auto_id
    if isinstance(field.field, forms.ModelChoiceField):
        model_field = field.field
        choices = [("", model_field.empty_label)] if model_field.empty_label is not None else []
        choices += [
            (model_field.prepare_value(obj), model_field.label_from_instance(obj)) for obj in model_field.queryset
        ]
    else:
        choices = list(field.field.choices)
    value = field.value()
    chosen = "" if value is None else str(value)
    selected = next((i for i, (option, _label) in enumerate(choices) if str(option) == chosen), None)
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((option, " selected" if i == selected else "", label) for i, (option, label) in enumerate(choices)),
    )
    # In the widget's order, as Django's attrs.html writes them (flatatt would sort them).
    flat = format_html_join(
        "",
        "{}",
        (
            (format_html(" {}", k) if v is True else format_html(' {}="{}"', k, v),)
            for k, v in attrs.items()
            if v is not False and v is not None
        ),
    )
    return format_html('<select name="{}"{}>{}</select>', field.html_name, flat, options)


# Stands for a URL's last argument while its pattern is reversed once: valid for every converter (int, slug, path).
_KEY = "0000000000"


@functools.lru_cache(maxsize=4096)
def _url_around_key(script_prefix: str, name: str, head: tuple) -> tuple[str, str]:
    url = reverse(name, args=[*head, _KEY])
    before, _key, after = url.rpartition(_KEY)
    return before, after


def fast_url(name: str, *args) -> str:
    """``reverse(name, args=args)`` for URLs whose last argument changes from row to row (a code or an id).

    The pattern is reversed once per name and leading arguments; the last argument is quoted as ``reverse``
    quotes it. A long table's links would otherwise reverse a pattern per row, a fifth of the page's cost.
    """
    before, after = _url_around_key(get_script_prefix(), name, tuple(str(arg) for arg in args[:-1]))
    return before + quote(str(args[-1]), safe=RFC3986_SUBDELIMS + "/~:@") + after


@register.simple_tag
def url_of(name, *args):
    """``{% url_of 'plans:dashboard_goal' plan.slug goal.code %}``: ``{% url %}`` for the rows of a table (fast_url)."""
    return fast_url(name, *args)


# The item page of each kind of row whose "Why?" loads on demand (plans.views.dashboard.why_fragment).
ITEM_PAGES = {
    "focus-area": "plans:dashboard_focus_area",
    "goal": "plans:dashboard_goal",
    "kpi": "plans:dashboard_kpi",
    "milestone": "plans:dashboard_milestone",
}


@register.simple_tag(takes_context=True)
def lazy_why(context, kind, key, title=""):
    """A row's "Why?" panel whose explanation is fetched when it is opened (static/js/dashboard.js).

    A long table would otherwise build and send an explanation per row that few readers open. Without
    JavaScript the panel holds a link to the item's own page, which shows the same explanation.
    """
    plan, query = context["plan"], context["as_of"].query
    return format_html(
        '<details class="why why-drawer" data-why-src="{}">'
        '<summary>{}<span class="visually-hidden"> {}</span></summary>'
        '<div class="why-body"><div class="why-head"><p class="why-title">{} {}</p>'
        '<button type="button" class="button small why-close">{}</button></div>'
        '<div class="why-content"><p><a href="{}">{}</a></p></div></div></details>',
        fast_url("plans:dashboard_why", plan.slug, kind, key) + query,
        _("Why?"),
        title,
        _("Why?"),
        title,
        _("Close"),
        fast_url(ITEM_PAGES[kind], plan.slug, key) + query,
        _("Read the explanation on its page"),
    )


@register.simple_tag(takes_context=True)
def lazy_panel(context, name):
    """A dashboard panel (``context["panels"]``: name -> (template, builder, title)) fetched with the page's as-of
    date and filters once the page is shown (static/js/dashboard.js), which puts it in this one's place.

    Without JavaScript, or when the fetch fails, it holds a link to the panel's own page.
    """
    query = context["request"].GET.urlencode()
    url = reverse("plans:dashboard_panel", args=[context["plan"].slug, name]) + (f"?{query}" if query else "")
    return format_html(
        '<section class="section card lazy-panel" data-panel-src="{}" aria-labelledby="panel-{}-heading">'
        '<h2 id="panel-{}-heading">{}</h2><p class="no-print"><a href="{}">{}</a></p></section>',
        url,
        name,
        name,
        context["panels"][name][2],
        url,
        _("Open this panel"),
    )


@register.filter
def num(value, places=2):
    """A number rounded for reading (2 decimals by default, trailing zeros dropped), localised."""
    return fmt_number(value, int(places))


@register.filter
def short_date(value):
    """A date or its ISO text in the language's short format: 2025-06-30 / 2025年6月30日."""
    return fmt_date(value)


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
