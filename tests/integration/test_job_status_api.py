"""A job's `status_url` (contract §8), on SQLite and PostgreSQL: a signed link of the service
that answers whether the job is still the one to render, so n8n skips jobs cancelled or
superseded while they waited; anything not signed by the service for that job is 403."""

from urllib.parse import parse_qs, urlencode, urlsplit

from .api_client import ApiDriver


async def status(api: ApiDriver, url: str) -> tuple[int, object]:
    response = await api.fetch("GET", url)
    return response.status_code, response.json()


async def test_the_status_url_tells_whether_the_job_is_current(api: ApiDriver) -> None:
    request_id = (await api.created())["id"]
    job = await api.last_job(request_id)
    public = api.container.settings.public_base_url
    assert job["status_url"].startswith(f"{public}/api/v1/jobs/{job['job_id']}/status?")
    assert await status(api, job["status_url"]) == (200, {"current": True})

    await api.callback("samples", await api.samples_payload(request_id))
    assert await status(api, job["status_url"]) == (200, {"current": False})  # done already

    await api.action(request_id, "regenerate-samples")
    second = await api.last_job(request_id)
    assert await status(api, second["status_url"]) == (200, {"current": True})
    await api.action(request_id, "cancel")
    assert await status(api, second["status_url"]) == (200, {"current": False})


async def test_a_status_link_not_signed_for_that_job_is_403(api: ApiDriver) -> None:
    first = await api.last_job((await api.created())["id"])
    other = await api.last_job((await api.created(user="bob"))["id"])
    url = urlsplit(first["status_url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{url.scheme}://{url.netloc}{url.path}"
    sample = first["outputs"][0]["upload_url"]  # a link of ours, for something else
    forged = [
        f"{base}?{urlencode({**query, 'signature': query['signature'][:-2] + 'AA'})}",
        f"{base}?{urlencode({**query, 'expires': str(int(query['expires']) + 60)})}",
        f"{base}?{urlencode({**query, 'request_id': other['request_id']})}",
        f"{base}?{urlencode({k: v for k, v in query.items() if k != 'signature'})}",
        base,
        other["status_url"].replace(other["job_id"], first["job_id"]),
        f"{base}?{urlsplit(sample).query}",
    ]
    for url_ in forged:
        code, body = await status(api, url_)
        assert code == 403, url_
        assert body["error"]["code"] == "forbidden"  # type: ignore[index]
