"""Replay links: only https, YouTube links in their one canonical form; a provider's recording
link also on one of the hosts the provider declares as its own."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit, urlunsplit

YOUTUBE = frozenset(
    {
        "youtube.com",
        "www.youtube.com",
        "m.youtube.com",
        "music.youtube.com",
        "youtube-nocookie.com",
        "www.youtube-nocookie.com",
        "youtu.be",
        "www.youtu.be",
    }
)
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_SURROGATES = re.compile("[\ud800-\udfff]")  # half a character: no database stores it
_PATH_FORMS = re.compile(r"/(?:live|embed|shorts|v|e)/([A-Za-z0-9_-]{11})(?:[/?#]|$)")


class ReplayRefused(ValueError):
    """The link cannot be archived; the message says why."""


class ReplayExists(ReplayRefused):
    """The session already has this replay."""


def canonical(url: str) -> str:
    """The link as it will be stored and sent; ReplayRefused for anything but an https address."""
    text = url.strip()
    if not text:
        raise ReplayRefused("the replay link is empty")
    if any(ord(char) < 32 or char.isspace() or _SURROGATES.fullmatch(char) for char in text):
        raise ReplayRefused("the replay link contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # an unclosed [IPv6] host, a port that is no number or over 65535
        raise ReplayRefused("the replay link is not a well-formed address") from None
    if parts.scheme.lower() != "https":
        raise ReplayRefused(f"only https:// links can be archived, not {parts.scheme or 'this'}:")
    host = (parts.hostname or "").lower()
    if not host or "." not in host:
        raise ReplayRefused("the replay link has no host")
    if parts.username or parts.password:
        raise ReplayRefused("the replay link must not carry a user name or password")
    if len(text) > 2000:
        raise ReplayRefused("the replay link is longer than 2000 characters")
    if host in YOUTUBE:
        return _youtube(parts.path, parts.query, host)
    netloc = host + (f":{port}" if port else "")
    return urlunsplit(("https", netloc, parts.path or "/", parts.query, parts.fragment))


def followable(url: str) -> bool:
    """Whether a stored link may be offered to people: links stored before every link was
    checked (a provider's `javascript:` or loopback link) are passed over, not followed."""
    try:
        canonical(url)
    except ReplayRefused:
        return False
    return True


def provider_link(url: str, hosts: Iterable[str], provider: str) -> str:
    """A provider's recording link as it will be stored: the rule of `canonical`, and a host the
    provider declares (`VideoProvider.recording_hosts`); ReplayRefused otherwise."""
    link = canonical(url)
    host = urlsplit(url.strip()).hostname or ""
    if not on_hosts(host, hosts):
        raise ReplayRefused(f"{host[:100]} is not one of {provider}'s recording hosts")
    return link


def on_hosts(host: str, hosts: Iterable[str]) -> bool:
    """Whether `host` is one of `hosts`: a name, or `*.name` for every name under it."""
    name = host.lower().rstrip(".")
    for pattern in hosts:
        wanted = pattern.lower().rstrip(".")
        if name == wanted or (wanted.startswith("*.") and name.endswith(wanted[1:])):
            return True
    return False


def _youtube(path: str, query: str, host: str) -> str:
    video = None
    if host.endswith("youtu.be"):
        video = path.strip("/").split("/")[0]
    elif path.rstrip("/") == "/watch":
        video = parse_qs(query).get("v", [""])[0]
    elif found := _PATH_FORMS.match(path):
        video = found.group(1)
    if not video or not VIDEO_ID.fullmatch(video):
        raise ReplayRefused("this YouTube link does not name a video")
    return f"https://www.youtube.com/watch?v={video}"
