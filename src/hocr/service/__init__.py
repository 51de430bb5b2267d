"""The HTTP service for force systems: ``hocr serve`` (Starlette on uvicorn).

``create_app(book, config)`` is the ASGI application; ``serve(config, ...)`` runs it under
uvicorn. Endpoints, limits, the decision log and deployment are in docs/service.md.
"""

from __future__ import annotations

from .app import create_app
from .config import ServiceConfig, config_from_env
from .runner import serve

__all__ = ["ServiceConfig", "config_from_env", "create_app", "serve"]
