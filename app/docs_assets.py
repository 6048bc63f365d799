"""Swagger UI and ReDoc assets shipped in a package (fastapi-offline), served locally."""

from pathlib import Path

import fastapi_offline

STATIC_DIR = str(Path(fastapi_offline.__file__).resolve().parent / "static")
