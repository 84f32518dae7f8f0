"""Bilingual plan content: every name, title, description and unit has an English and a Chinese value.

The English value keeps the field's plain name (``name``, ``title``, ``description``, ``unit``) and the
Chinese one adds ``_zh`` (``name_zh`` ...). Two explicit columns rather than django-modeltranslation: the
languages are fixed at two, and the recompute, COPY and export paths read columns by name in SQL, where a
descriptor that swaps the attribute by language would hide which column they read.

``obj.tr.name`` gives the reader's language and falls back to the other when it is empty, so a record entered in
one language only still reads everywhere; templates write ``{{ kpi.tr.name }}``.
"""

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .base import multi_line_validators, single_line_validators

__all__ = ["DESCRIPTION_ZH", "NAME_ZH", "TITLE_ZH", "UNIT_ZH", "Bilingual", "reads_chinese", "zh_text_field"]


def reads_chinese() -> bool:
    """Whether the active language is Chinese (zh-hans, zh-cn ...)."""
    return (get_language() or "").lower().startswith("zh")


def zh_text_field(verbose_name, *, max_length: int | None = None):
    """The Chinese twin of a name (a line, when ``max_length`` is given) or a description (free text)."""
    # The database default lets raw inserts (COPY, SQL) that predate the twins leave them out.
    blank = {"blank": True, "default": "", "db_default": ""}
    if max_length is None:
        return models.TextField(verbose_name, validators=multi_line_validators, **blank)
    return models.CharField(verbose_name, max_length=max_length, validators=single_line_validators, **blank)


class _Localized:
    """The record's bilingual fields in the reader's language: ``obj.tr.name``."""

    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def __getattr__(self, field: str) -> str:
        obj = self._obj
        if field not in type(obj).BILINGUAL_FIELDS:
            raise AttributeError(f"{type(obj).__name__}.{field} is not a bilingual field")
        english, chinese = getattr(obj, field), getattr(obj, f"{field}_zh")
        return (chinese or english) if reads_chinese() else (english or chinese)


class Bilingual:
    """Mixin for models whose ``BILINGUAL_FIELDS`` each have a ``<field>_zh`` Chinese twin."""

    BILINGUAL_FIELDS: tuple[str, ...] = ()

    @property
    def tr(self) -> _Localized:
        return _Localized(self)


# Labels of the Chinese twins, shared by the models.
NAME_ZH = _("name (Chinese)")
TITLE_ZH = _("title (Chinese)")
DESCRIPTION_ZH = _("description (Chinese)")
UNIT_ZH = _("unit (Chinese)")
