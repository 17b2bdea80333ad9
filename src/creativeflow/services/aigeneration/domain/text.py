"""What text from outside may hold before anything stores it or hands it on.

Both databases must be able to store it the same way (PostgreSQL refuses NUL and lone
surrogates where SQLite takes them), and a control character in an identifier, a header or a
URL is never meant: it is a smuggled line break, an escape sequence or a truncation attack.
Every door (JSON bodies, path and query parameters, headers, token claims, callbacks) asks
these functions, so the rules live here once."""

import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

# Control characters (Unicode category Cc: C0, DEL, C1) and lone surrogates; the second
# pattern spares tab, line feed and carriage return, which free text (a prompt) may hold.
_REFUSED_ON_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REFUSED_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Trimmed from the ends of a prompt: separators (Z*), controls (Cc) and invisible format
# characters (Cf: zero-width space and joiners, the BOM, direction marks).
_INVISIBLE_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")
# What a URL path, query or fragment may keep as it is; everything else is percent-encoded.
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why `value` cannot be taken, or None. `multiline` admits tab, CR and LF."""
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED_ON_A_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "must not contain NUL characters"
    if "\ud800" <= char <= "\udfff":
        return "must be valid Unicode text (no lone surrogates)"
    return "must not contain control characters"


def trim_invisible(value: str) -> str:
    """`value` without separators, controls or invisible format characters at either end."""
    start, end = 0, len(value)
    while start < end and unicodedata.category(value[start]) in _INVISIBLE_CATEGORIES:
        start += 1
    while end > start and unicodedata.category(value[end - 1]) in _INVISIBLE_CATEGORIES:
        end -= 1
    return value[start:end]


def normalized_http_url(value: str) -> str:
    """An http(s) URL parsed and written out again, so what is stored or passed on is what
    was meant: lower-case scheme and host (IDNA for non-ASCII names), a valid port, no
    credentials, and every character outside the URL alphabet percent-encoded.
    Raises ValueError with the reason."""
    if problem := text_problem(value):
        raise ValueError(problem)
    if any(char.isspace() for char in value):
        raise ValueError("must not contain white space")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError("must be a well-formed URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials")
    host = _ascii_host(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_URL_SAFE),
            quote(parts.query, safe=_URL_SAFE),
            quote(parts.fragment, safe=_URL_SAFE),
        )
    )


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("has a host name that is not valid") from None
