"""The HTTP service for force systems: ``hocr serve`` (Starlette on uvicorn).

``create_app(book, config)`` is the ASGI application; ``serve(config, ...)`` runs it under
uvicorn. Endpoints, limits, the decision log and deployment are in docs/service.md.

The names are imported on first use, so that ``hocr.service.config`` (which the command line
reads for its defaults) does not bring in the web stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServiceConfig", "config_from_env", "create_app", "serve"]
_HOME = {"create_app": "app", "ServiceConfig": "config", "config_from_env": "config", "serve": "runner"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'hocr.service' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{_HOME[name]}", __name__), name)
