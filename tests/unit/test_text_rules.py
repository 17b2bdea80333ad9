"""The rules every door applies to text from outside (domain/text.py), and the SSRF policy's
reading of IPv6 addresses that carry an IPv4 address inside."""

import ipaddress

import pytest

from creativeflow.services.aigeneration.domain.text import (
    normalized_http_url,
    text_problem,
    trim_invisible,
)
from creativeflow.services.aigeneration.infrastructure.clients.webhook_url_policy import (
    is_public,
)


@pytest.mark.parametrize(
    ("value", "multiline", "problem"),
    [
        ("plain text", False, None),
        ("\U0001f98a emoji and \u00e9", False, None),
        ("a\x00b", True, "must not contain NUL characters"),
        ("a\ud800b", True, "must be valid Unicode text (no lone surrogates)"),
        ("\x1b[31m", True, "must not contain control characters"),
        ("a\x85b", True, "must not contain control characters"),  # C1: NEL
        ("line\r\nbreak\tand tab", True, None),
        ("line\r\nbreak", False, "must not contain control characters"),
        ("tab\there", False, "must not contain control characters"),
    ],
)
def test_text_is_refused_for_what_no_database_stores_alike_or_no_line_means(
    value: str, multiline: bool, problem: str | None
) -> None:
    assert text_problem(value, multiline=multiline) == problem


@pytest.mark.parametrize(
    ("value", "trimmed"),
    [
        ("  fox  ", "fox"),
        ("\u200b\u200d\ufefffox\u200e\u00a0", "fox"),  # zero-width, BOM, LRM, NBSP
        ("\u200b\u200d\ufeff", ""),
        ("\u2028\u2029 \t\n", ""),
        ("a \u200d b", "a \u200d b"),  # only the ends: a joiner inside an emoji stays
    ],
)
def test_invisible_characters_are_trimmed_from_the_ends_only(value: str, trimmed: str) -> None:
    assert trim_invisible(value) == trimmed


@pytest.mark.parametrize(
    ("url", "normalized"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("HTTPS://Example.COM:8443/a%20b?q=ü#f", "https://example.com:8443/a%20b?q=%C3%BC#f"),
        ("http://bücher.example/x", "http://xn--bcher-kva.example/x"),
        ("http://[::1]:80/x", "http://[::1]:80/x"),
        ("https://cdn.example/a%2Fb.png", "https://cdn.example/a%2Fb.png"),
    ],
)
def test_urls_are_parsed_and_written_out_again(url: str, normalized: str) -> None:
    assert normalized_http_url(url) == normalized


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example/a.png\r\nX-Injected: 1",
        "https://cdn.example/a\x00.png",
        "https://cdn.example/a b.png",  # raw white space is not a URL
        "ftp://cdn.example/a.png",
        "https://user:secret@cdn.example/a.png",
        "https://cdn.example:99999/a.png",
        "https:///a.png",
        "javascript:alert(1)",
    ],
)
def test_urls_that_are_not_clean_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"must|has a host"):
        normalized_http_url(url)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::a00:7", False),  # IPv4-compatible 10.0.0.7
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254 (cloud metadata)
        ("64:ff9b::5db8:d822", True),  # NAT64 of a public address
        ("64:ff9b:1::a00:1", False),  # RFC 8215 local-use NAT64
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
        ("::1", False),
        ("fd00:ec2::254", False),
    ],
)
def test_an_ipv6_address_is_judged_by_the_ipv4_address_it_carries(
    address: str, public: bool
) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
