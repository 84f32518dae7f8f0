"""ETags for reads (``If-None-Match`` -> 304) and version checks for writes (``If-Match`` -> 412).

A tag is ``"<model>-<id>-<version>.<digest>"`` for one item and ``"<digest>"`` for a list page. The digest
covers what changes a representation without a new version: ``updated_at``, ``computed_at`` (each status
recompute), the denormalised plan and owner team, the query (``expand``, filters, cursor) and the media
type; it is computed from the rows already fetched, before anything is serialised. ``If-Match`` checks the
version part only: a recompute of the item's status does not make a client's update stale.
"""

import hashlib

from .exceptions import PreconditionFailed

# The row attributes a representation depends on beyond its id (whichever the model has).
STAMP_FIELDS = ("version", "updated_at", "computed_at", "deleted_at", "changed_at", "plan_id", "owner_team_id")


def version_tag(item) -> str:
    return f"{item._meta.model_name}-{item.pk}-{getattr(item, 'version', '')}"


def _stamp(item) -> str:
    return repr([item.pk, *(getattr(item, name, None) for name in STAMP_FIELDS)])


def _digest(request, *parts: str) -> str:
    media_type = getattr(request, "accepted_media_type", "") if request is not None else ""
    query = request.get_full_path() if request is not None else ""
    return hashlib.blake2b("\n".join((query, media_type, *parts)).encode(), digest_size=12).hexdigest()


def etag_for(item, request=None) -> str:
    return f'"{version_tag(item)}.{_digest(request, _stamp(item))}"'


def list_etag(request, rows, *, has_next: bool) -> str:
    return f'"{_digest(request, str(has_next), *map(_stamp, rows))}"'


def _tags(header: str) -> set[str]:
    return {tag.strip() for tag in header.split(",")}


def not_modified(request, etag: str) -> bool:
    """Whether If-None-Match names ``etag`` (weak comparison, as RFC 9110 prescribes for it)."""
    header = request.headers.get("If-None-Match")
    if not header:
        return False
    tags = {tag.removeprefix("W/") for tag in _tags(header)}
    return "*" in tags or etag in tags


def if_match_version(request, item) -> int | None:
    """The version the caller's If-Match vouches for; None without If-Match. A mismatch raises 412.

    Strong comparison: a weak tag never matches. Tags from before the digest was added still match.
    """
    header = request.headers.get("If-Match")
    if not header:
        return None
    tags = _tags(header)
    current = version_tag(item)
    if "*" in tags or any(tag.startswith('"') and tag.strip('"').split(".")[0] == current for tag in tags):
        return item.version
    raise PreconditionFailed()
