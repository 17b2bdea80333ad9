"""How the shipped client (and the benchmark's flows, which reuse it) waits before trying again."""

from creativeflow.services.aigeneration.client._common import retry_delay


def test_the_first_tries_come_soon_and_double() -> None:
    assert 0.5 <= retry_delay(0, None) <= 0.75
    assert 1.0 <= retry_delay(1, None) <= 1.5
    assert 2.0 <= retry_delay(2, None) <= 3.0


def test_never_sooner_than_retry_after() -> None:
    assert all(retry_delay(0, "4") >= 4 for _ in range(50))


def test_a_client_shed_many_times_still_tries_every_ten_to_fifteen_seconds() -> None:
    delays = [retry_delay(attempt, "1") for attempt in range(4, 40)]
    assert min(delays) >= 8 and max(delays) <= 15


def test_a_retry_after_past_thirty_seconds_is_capped_and_a_date_is_ignored() -> None:
    assert 30 <= retry_delay(0, "600") <= 45
    assert retry_delay(0, "Wed, 21 Oct 2026 07:28:00 GMT") <= 0.75
