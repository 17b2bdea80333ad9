"""The Python client stands alone: in a virtual environment holding only the client's own
dependencies (the `client` extra, and what those need), it imports without FastAPI or
SQLAlchemy and drives a whole flow against the running service."""

import re
import shutil
import subprocess
import textwrap
import venv
from importlib import metadata
from pathlib import Path

from .conftest import RunningService

PACKAGE = Path(__file__).parents[2] / "src" / "creativeflow"
CLIENT_EXTRA = "client"


def client_distributions() -> set[str]:
    """The `client` extra's distributions and everything they require, as installed here."""
    ours = metadata.distribution("creativeflow-aigeneration")
    wanted = [
        _name(r)
        for r in ours.requires or []
        if re.search(rf"extra\s*==\s*['\"]{CLIENT_EXTRA}['\"]", r)
    ]
    found: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name in found:
            continue
        found.add(name)
        for requirement in metadata.distribution(name).requires or []:
            if "extra ==" not in requirement and _applies(requirement):
                wanted.append(_name(requirement))
    return found


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _applies(requirement: str) -> bool:
    marker = requirement.partition(";")[2].strip()
    if not marker:
        return True
    from packaging.markers import Marker

    return Marker(marker).evaluate()


def standalone_python(folder: Path) -> Path:
    """A venv without pip, its site-packages holding copies of exactly those distributions
    and the client's own modules."""
    venv.EnvBuilder(with_pip=False).create(folder)
    python = folder / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout.strip()
    )
    for name in client_distributions():
        dist = metadata.distribution(name)
        for file in dist.files or []:
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and ".." not in file.parts:
                target = site / file
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    for init in ("__init__.py", "services/__init__.py", "services/aigeneration/__init__.py"):
        (site / "creativeflow" / init).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PACKAGE / init, site / "creativeflow" / init)
    shutil.copytree(
        PACKAGE / "services" / "aigeneration" / "client",
        site / "creativeflow" / "services" / "aigeneration" / "client",
    )
    return python


def test_the_client_runs_with_only_its_own_dependencies(
    service: RunningService, tmp_path: Path
) -> None:
    python = standalone_python(tmp_path / "venv")
    script = textwrap.dedent(
        f"""
        import importlib.util
        from pathlib import Path
        from creativeflow.services.aigeneration.client import GenerationClient
        for server_part in ("fastapi", "sqlalchemy", "starlette", "aio_pika", "PIL"):
            assert importlib.util.find_spec(server_part) is None, server_part
        with GenerationClient({service.base_url!r}, {service.token("solo")!r}) as client:
            request = client.create("A lighthouse at dawn", "instagram_post", wait=30)
            assert request.status == "awaiting_selection", request.status
            sample = request.sample_asset_infos[0]
            final = client.select_sample(request.id, sample.asset_id, wait=30)
            assert final.status == "completed", final.status
            assert final.finals[0].sample_id == sample.asset_id
            saved = client.download(final.final_asset_info.url, Path({str(tmp_path)!r}) / "f.png")
            data = saved.read_bytes()
            assert data[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
            print(len(data), client.credits().balance)
        """
    )
    result = subprocess.run(
        [python, "-I", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    size, balance = result.stdout.split()
    assert int(size) > 1000 and float(balance) < 10
