"""Optimistic concurrency: a row's `version` is its ETag; a change names the version it replaces.

RFC 9110 13.1.1: If-Match compares strongly, so a weak tag (`W/"3"`) never matches (412); `*` matches
any current version; a list (`"3", "4"`) matches when one of its tags does. A change with neither an
If-Match nor a `version` in its body is 428 (precondition_required) where the resource requires one.
"""

from __future__ import annotations

import re
from typing import Literal, overload

from angebae.errors import BadRequest, Conflict, PreconditionFailed, PreconditionRequired

_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')


class StaleVersion(Conflict):
    code, message = "stale_version", "The resource has changed since you read it."


class StaleIfMatch(PreconditionFailed):
    code, message = "stale_version", "The resource has changed since you read it (If-Match)."


class VersionRequired(PreconditionRequired):
    code = "version_required"
    message = 'Send the version you read, as an If-Match header (its ETag) or a "version" field.'


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(if_match: str) -> list[tuple[bool, str]]:
    """(weak, opaque tag) of each entity tag of the header; 400 for anything else."""
    tags, at = [], 0
    while at < len(if_match):
        m = _TAG.match(if_match, at)
        if not m or m.end() == at:
            raise BadRequest('If-Match must be "*" or the ETag of the resource, e.g. "3".')
        tags.append((bool(m.group(1)), m.group(2)))
        at = m.end()
    return tags


class Expected:
    """The versions the client says it read (any, for `If-Match: *`)."""

    def __init__(
        self,
        versions: frozenset[int],
        *,
        any_version: bool = False,
        from_header: bool = True,
        weak_only: bool = False,
    ) -> None:
        self.versions, self.any_version = versions, any_version
        self.from_header, self.weak_only = from_header, weak_only

    def check(self, current: int) -> None:
        """409 (a body version) or 412 (If-Match) when `current` is not what the client read."""
        if self.any_version or current in self.versions:
            return
        stale = StaleIfMatch if self.from_header else StaleVersion
        details: dict = {"current_version": current}
        if len(self.versions) == 1:
            details["your_version"] = next(iter(self.versions))
        if self.weak_only:
            details["reason"] = "If-Match compares strongly: a weak tag (W/...) never matches."
        raise stale(details=details, headers={"ETag": etag(current)})


@overload
def expected(
    if_match: str | None, body_version: int | None = None, *, required: Literal[True] = True
) -> Expected: ...
@overload
def expected(if_match: str | None, body_version: int | None = None, *, required: bool) -> Expected | None: ...


def expected(
    if_match: str | None, body_version: int | None = None, *, required: bool = True
) -> Expected | None:
    """The versions a change may replace, from If-Match (first) or a body `version`; None when neither
    was sent and the change does not require one."""
    if if_match is not None and if_match.strip():
        if if_match.strip() == "*":
            return Expected(frozenset(), any_version=True)
        tags = _tags(if_match.strip())
        versions = set()
        for weak, tag in tags:
            if weak:
                continue  # strong comparison: a weak tag matches nothing
            if not re.fullmatch(r"[0-9]{1,10}", tag):  # ASCII digits: str.isdigit() also takes "²"
                raise BadRequest('If-Match must be "*" or the ETag of the resource, e.g. "3".')
            versions.add(int(tag))
        return Expected(frozenset(versions), weak_only=not versions)
    if body_version is not None:
        return Expected(frozenset({body_version}), from_header=False)
    if required:
        raise VersionRequired()
    return None
