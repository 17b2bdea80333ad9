from pathlib import Path


class LocalAssetStore:
    """Rendered images under DATA_DIR/assets, served by the service at /assets/..."""

    def __init__(self, root: Path, base_url: str) -> None:
        self._root = root
        self._base_url = base_url.rstrip("/")

    def save(self, request_id: str, name: str, data: bytes) -> str:
        folder = self._root / request_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        return f"{self._base_url}/assets/{request_id}/{name}"
