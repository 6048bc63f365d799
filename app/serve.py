"""The API server, `python -m app.cli serve`: uvicorn, stopping the way a load balancer needs.

uvicorn's own command closes its listener as soon as SIGTERM arrives, while the load balancer
still sends this replica traffic until its next readiness poll fails: those requests are refused.
This server stops in three steps:

1. drain (`APP_SERVER__DRAIN_SECONDS`, 5 s): `/health/ready` answers 503 with the check
   `draining`; everything else, new connections included, is served as before;
2. the listener closes and the requests in flight finish, within
   `APP_SERVER__GRACEFUL_TIMEOUT_SECONDS` (25 s; those still running then are cancelled);
3. the lifespan ends (the pool is closed) and the process exits 0.

A second SIGTERM or SIGINT (Ctrl+C) skips what is left of the drain; a third cancels the requests
still in flight.
"""

import signal
import socket
import time
from types import FrameType

import structlog
import uvicorn
from fastapi import FastAPI

from app.config import Settings

log = structlog.get_logger(__name__)


def uvicorn_config(app: FastAPI, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """The app writes its own JSON access log (with the request id); uvicorn's would repeat it.
    No proxy headers: uvicorn would otherwise take the client address from any caller's
    X-Forwarded-For, which defeats the token endpoint's rate limit; the app believes the header
    only from APP_TRUSTED_PROXIES (app/auth/client_address.py)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=settings.server.graceful_timeout_seconds,
    )


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its shutdown. The signal handler only records what
    was asked; the event loop acts on it in `on_tick` (every 0.1 s), outside signal context."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self.drain_ends: float | None = None
        # What the signal handler did (event, signal), logged from the loop.
        self._to_log: list[tuple[str, int]] = []

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not recorded in uvicorn's `_captured_signals`: uvicorn would raise the signal again
        # after its shutdown, and a drained, clean stop would then exit 128 + 15, not 0.
        if self.should_exit:
            self.force_exit = True  # a signal during the shutdown: cancel what is in flight
            self._to_log.append(("shutdown_forced", sig))
        elif self.drain_ends is not None or not self.started:
            self.should_exit = True  # a second signal, or one before serving: no drain
            self._to_log.append(("drain_skipped" if self.started else "stopping", sig))
        else:
            self.app.state.draining = True
            self.drain_ends = time.monotonic() + self.drain_seconds
            self._to_log.append(("draining", sig))

    async def on_tick(self, counter: int) -> bool:
        while self._to_log:
            event, sig = self._to_log.pop(0)
            log.warning(event, signal=signal.Signals(sig).name, detail=_DETAIL[event])
        if (
            not self.should_exit
            and self.drain_ends is not None
            and time.monotonic() >= self.drain_ends
        ):
            self.should_exit = True
            log.warning("drained", detail=_DETAIL["drained"])
        return await super().on_tick(counter)


_DETAIL = {
    "draining": "/health/ready answers 503 for the drain period, requests are still served; "
    "signal again to skip the drain",
    "drain_skipped": "signalled again: the listener closes now",
    "stopping": "signalled before serving: stopping without a drain",
    "drained": "the listener closes; requests in flight may finish",
    "shutdown_forced": "signalled during the shutdown: the requests in flight are cancelled",
}


def serve(settings: Settings, host: str, port: int, fd: int | None = None) -> None:
    """Serve on host:port, or on the listening socket inherited as file descriptor `fd`
    (socket activation; the tests hand over a socket they bound, so no other process can take
    its port between choosing and binding it)."""
    from app.main import create_app

    app = create_app(settings)
    config = uvicorn_config(app, settings, host, port)
    server = DrainingServer(config, app, settings.server.drain_seconds)
    # socket(fileno=) learns the family from the descriptor (uvicorn's own --fd assumes Unix).
    server.run(sockets=None if fd is None else [socket.socket(fileno=fd)])
