"""Strong ETags from id and version, and If-Match checks for PUT, PATCH and DELETE."""

from .exceptions import PreconditionFailed


def etag_for(item) -> str:
    return f'"{item._meta.model_name}-{item.pk}-{item.version}"'


def if_match_version(request, item) -> int | None:
    """The version the caller's If-Match vouches for; None without If-Match. A mismatch raises 412."""
    header = request.headers.get("If-Match")
    if not header:
        return None
    tags = {tag.strip() for tag in header.split(",")}
    if "*" in tags or etag_for(item) in tags:
        return item.version
    raise PreconditionFailed()
