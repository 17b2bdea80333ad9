"""Parameters that arrive in the path: declared once, with the length of the column they are
looked up in (a longer value can name nothing, so it is refused as invalid, never sent to
the database). Characters no parameter may hold are refused for every route at the edge
(api/middleware.py)."""

from typing import Annotated

from fastapi import Path

RequestIdPath = Annotated[
    str, Path(min_length=1, max_length=36, description="The generation request's id")
]
AssetIdPath = Annotated[str, Path(min_length=1, max_length=64, description="The asset's id")]
