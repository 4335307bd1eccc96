"""Stable story identity: GUID, else canonical link, else a hash of the text."""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "mc_", "pk_", "piwik_", "matomo_", "hsa_", "oly_")
_TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "cmp",
        "cmpid",
        "ocid",
        "smid",
        "smtyp",
        "wt.mc_id",
        "s_cid",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES)


def canonical_link(link: str) -> str:
    """The link with tracking parameters, fragment and default port removed; scheme and host
    lowercased; remaining query parameters sorted. Not a URL to fetch, only to compare."""
    parts = urlsplit(link.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        credentials = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{credentials}@{netloc}"
    query = sorted(
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(name)
    )
    path = parts.path or ("/" if netloc else "")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def _normalised_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def story_id(guid: str | None, link: str | None, title: str, summary: str) -> str:
    """``g:`` + sha1 of the GUID, else ``l:`` + sha1 of the canonical link,
    else ``h:`` + sha1 of the normalised title and summary."""
    if guid and guid.strip():
        return "g:" + _sha1(guid.strip())
    if link and link.strip():
        return "l:" + _sha1(canonical_link(link))
    return "h:" + _sha1(_normalised_text(title) + "\n" + _normalised_text(summary))
