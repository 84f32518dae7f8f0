"""The API's JSON parser: a size limit per view, and a nesting limit checked before ``json`` parses the body.

DRF's own JSONParser reads ``request.body``, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MiB, meant for
forms) caps every endpoint, the bulk one included; and Python's ``json`` recurses once per nesting level,
so a thousand ``[`` make a RecursionError (a 500). This parser reads at most the view's ``max_body_bytes``
from the stream (413 past it) and measures the nesting without recursion before ``json.loads`` runs.
"""

import codecs
import json
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import renderers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.settings import api_settings

from .exceptions import PayloadTooLarge
from .serializers import MAX_BULK_ROWS, MAX_TEXT_LENGTH

MAX_DEPTH = 32
# A bulk row at its largest: a note of MAX_TEXT_LENGTH characters plus the other fields (external ids of
# 128 and 64 characters, a date, a number), the keys and the punctuation, well under 1 KiB together.
BULK_ROW_MAX_BYTES = MAX_TEXT_LENGTH + 1024
# Fits MAX_BULK_ROWS rows with notes of the longest length in one-byte characters (about 105 MiB); notes
# in Chinese take three bytes a character in UTF-8 (six as \u escapes), so such a batch is split instead.
BULK_MAX_BODY_BYTES = MAX_BULK_ROWS * BULK_ROW_MAX_BYTES

# Far more strings than the largest bulk body holds (about a dozen a row): past it the body cannot be a
# valid request, and the string scan below (one regex match a string) stays short.
MAX_STRINGS = MAX_BULK_ROWS * 20
# A string that still holds brackets once escapes and empty strings are gone. An unterminated one runs to
# the end, so every quote starts a match and the scan stays linear.
_STRING = re.compile(rb'"[^"]*(?:"|\Z)')
# Only brackets are left, and all of one kind: a mismatch such as [} is json's to report, and the depth
# (all that matters for recursion) does not depend on the kind.
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b'[]{}"'))


class TooManyStrings(ValueError):
    pass


def json_depth_exceeds(body: bytes, limit: int) -> bool | None:
    """True when the JSON in ``body`` (UTF-8) nests deeper than ``limit``, None when its brackets do not
    pair up, else False. Raises TooManyStrings past MAX_STRINGS.

    Each pass removes the innermost pairs, one level everywhere at once (``bytes.replace`` does not rescan
    what it removed), so brackets nested d deep are gone after exactly d passes: no recursion, and at most
    ``limit`` passes at C speed.
    """
    # Escapes pair up left to right like json reads them, so once \\ and \" are gone every quote left
    # opens or closes a string. Removing "" never joins a bracket to a string: what lay between was empty.
    quotes_only = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_BRACKETS, delete=_NOT_BRACKETS)
    if quotes_only.count(b'"') > 2 * MAX_STRINGS:
        raise TooManyStrings()
    structure = _STRING.sub(b"", quotes_only.replace(b'""', b""))
    if b"[" * (limit + 1) in structure:
        return True  # the usual attack, found in one pass
    for _level in range(limit):
        if not structure:
            return False
        reduced = structure.replace(b"[]", b"")
        if len(reduced) == len(structure):
            return None
        structure = reduced
    return bool(structure)


def _reject_constant(value):
    raise ValueError(f"{value} is not valid JSON")


class JSONParser(BaseParser):
    """Parses JSON bodies of at most the view's ``max_body_bytes``, nested at most MAX_DEPTH levels.

    Not a subclass of DRF's JSONParser on purpose: DRF hands that class a copy of ``request.body``,
    which applies the forms' upload limit instead of the view's.
    """

    media_type = "application/json"
    renderer_class = renderers.JSONRenderer
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        view = parser_context.get("view")
        limit = getattr(view, "max_body_bytes", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(_("The request body is larger than %(limit)d bytes.") % {"limit": limit})
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(body, encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            message = _("JSON parse error - the body is not %(encoding)s text.") % {"encoding": encoding}
            raise ParseError(message) from exc
        # The scan reads UTF-8; a body in another encoding is scanned as its UTF-8 equivalent.
        scanned = body if codecs.lookup(encoding).name == "utf-8" else text.encode()
        try:
            too_deep = json_depth_exceeds(scanned, self.max_depth)
        except TooManyStrings as exc:
            raise ParseError(_("JSON parse error - more than %(count)d strings.") % {"count": MAX_STRINGS}) from exc
        if too_deep:
            raise ParseError(
                _("JSON parse error - nested deeper than %(depth)d levels.") % {"depth": self.max_depth},
                code="json_too_deep",
            )
        if too_deep is None:
            raise ParseError(_("JSON parse error - brackets do not pair up."))
        parse_constant = _reject_constant if api_settings.STRICT_JSON else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
