"""Running the service under uvicorn, in one process or as uvicorn's own workers.

uvicorn gives the slow-client and shutdown behaviour: a keep-alive timeout, a bound on open
connections, a listen backlog, and on SIGTERM it stops accepting, lets requests in flight finish
(up to ``graceful_timeout`` seconds) and then runs the app's shutdown. With ``workers`` > 1 each
worker process builds the app again from ``HOCR_SERVICE_*`` variables (``app_from_env``).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from ..loader import load_rulebook
from .app import create_app
from .config import ServiceConfig, config_from_env
from .protocol import GuardedH11Protocol

KEEP_ALIVE = 5  # seconds an idle connection is kept
GRACEFUL = 30  # seconds requests in flight get to finish after SIGTERM
BACKLOG = 2048
ACCESS_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def logging_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's own access log is off (its request line holds the query string); ours names the
    route, the status and the time. Everything goes to standard error."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": ACCESS_FORMAT}},
        "handlers": {"stderr": handler},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "hocr.service": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "hocr.access": {"handlers": ["stderr"] if access_log else [], "level": "INFO", "propagate": False},
        },
    }


def app_from_env() -> Any:
    """The app for one uvicorn worker, configured from the environment: the API and the
    training page (docs/training.md)."""
    from .training import routes as training_routes  # the page's modules load with the app only

    config = config_from_env()
    return create_app(load_rulebook(config.rules), config, routes=training_routes())


def uvicorn_config(config: ServiceConfig, host: str, port: int, workers: int, access_log: bool,
                   fd: int | None = None) -> uvicorn.Config:
    os.environ.update(config.as_env())
    return uvicorn.Config(
        "hocr.service.runner:app_from_env", factory=True, host=host, port=port, fd=fd, workers=workers,
        http=GuardedH11Protocol,
        log_config=logging_config(access_log), access_log=False, server_header=False,
        timeout_keep_alive=KEEP_ALIVE, timeout_graceful_shutdown=GRACEFUL, backlog=BACKLOG,
        # A connection beyond this is refused with 503 by uvicorn itself (before any app code).
        limit_concurrency=config.max_in_flight * 4,
        proxy_headers=True, forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
    )


def check_bind(host: str, port: int) -> None:
    """Raise OSError now if ``host:port`` cannot be listened on (uvicorn would exit 3 with a log line)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.listen(1)


def serve(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8080, workers: int = 1,
          access_log: bool = True) -> None:
    """Run until SIGTERM or SIGINT (Ctrl-C)."""
    book = load_rulebook(config.rules)  # fail here, before binding, if the rulebook does not load
    if config.decision_log:
        open(config.decision_log, "a").close()  # an OSError here, before binding, if it cannot be written
    check_bind(host, port)
    sys.stderr.write(f"hocr: serving {book.edition} ({book.hash[:19]}) on http://{host}:{port}/ "
                     f"with {workers} worker{'s' if workers != 1 else ''} (API at /docs, training page at /training)\n")
    logging.getLogger("hocr.service").debug("limits: %s", config)
    server_config = uvicorn_config(config, host, port, workers, access_log)
    if workers > 1:
        Multiprocess(server_config, sockets=[server_config.bind_socket()]).run()
    else:
        uvicorn.Server(server_config).run()
    sys.stderr.write("hocr: stopped\n")
