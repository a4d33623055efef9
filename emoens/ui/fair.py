"""A fair queue for a hosted app: a per-client limit at the door, short and long lanes, work
dropped when its client has left, and old result folders swept.

- :func:`install` wraps the gradio queue's ``push`` so one client (by IP address) has at most
  ``Settings.per_client`` analyses, and 4 × that many events of any kind, queued or running;
  more are refused with a message at once, so a flood never fills the queue for everyone.
- :class:`Lanes`: analyses run in a *short* lane (clips up to ``Settings.long_seconds``) or a
  *long* lane (longer clips, Compare runs), a few jobs each at a time: a short request waits only
  for other short ones, never behind a long one, and in the order they came (:class:`FifoLane`).
- :func:`client_alive`: a job whose client disconnected (gradio marks its event dead) stops at the
  next check: while waiting for its lane, and between Compare items.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

from emoens.ui.config import UIError

HEAVY_LANES = ("analyze", "compare")
LIGHT_PER_HEAVY = 4  # events of any kind one client may have queued or running: 4 × per_client
CANCELLED = "cancelled: the page that asked for this analysis was closed"
RESULT_TTL_SECONDS = 3600.0
_queues: list = []  # gradio queues that install() wrapped (one per app in this process)


def _behind_proxy() -> bool:
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("EMOENS_TRUST_PROXY", "") == "1"


def client_of(request) -> str:
    """The client's address: the socket's peer; behind a trusted proxy (a Space, or
    ``EMOENS_TRUST_PROXY=1``) the last X-Forwarded-For hop, the one that proxy added (earlier
    hops are whatever the client wrote)."""
    headers = getattr(request, "headers", None) or {}
    forwarded = headers.get("x-forwarded-for", "") if hasattr(headers, "get") else ""
    if forwarded and _behind_proxy():
        return forwarded.split(",")[-1].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


def _events(queue) -> Iterator:
    """The queue's events waiting or running, without those whose result was already sent (gradio
    clears a finished job a moment after sending it: the client may have asked again by then)."""
    for event_queue in list(queue.event_queue_per_concurrency_id.values()):
        yield from list(event_queue.queue)
    for job in list(queue.active_jobs):
        yield from (e for e in list(job or []) if not getattr(e, "emoens_completed", False))


def install(demo, per_client: int) -> None:
    """Limit each client to ``per_client`` heavy events (queued + running) in ``demo``'s queue."""
    queue = demo._queue
    original = queue.push

    async def push(body, request, username):
        from gradio import route_utils

        fn = route_utils.get_fn(queue.blocks, None, body) if body.fn_index is not None else None
        client = client_of(request)
        mine = [e for e in _events(queue) if e.alive and client_of(e.request) == client]
        heavy = sum(e.concurrency_id in HEAVY_LANES for e in mine)
        if fn is not None and fn.concurrency_id in HEAVY_LANES and heavy >= per_client:
            return (False, f"you already have {heavy} analyses waiting or running (at most "
                           f"{per_client} per visitor): wait for them to finish", "queue_full")
        if len(mine) >= LIGHT_PER_HEAVY * per_client:  # any event: a flood never fills the queue
            return (False, f"you already have {len(mine)} requests waiting or running: wait for "
                           "them to finish", "queue_full")
        return await original(body, request, username)

    send = queue.send_message

    def send_message(event, message):
        if getattr(message, "msg", None) == "process_completed":
            event.emoens_completed = True  # no longer counts against its client
        return send(event, message)

    queue.push = push
    queue.send_message = send_message
    _queues.append(queue)


def client_alive(session_hash: str | None) -> bool:
    """False once gradio has marked every event of this session dead (its client left)."""
    if not session_hash:
        return True
    seen = [e for q in _queues for e in _events(q) if e.session_hash == session_hash]
    return not seen or any(e.alive for e in seen)


class FifoLane:
    """At most ``size`` holders at a time; those waiting get in in the order they came.

    (A semaphore polled with a timeout, so that a waiter can notice its client left, sends a
    waiter to the back of the line at each poll: the order becomes a lottery and a few unlucky
    requests wait many times the median.)"""

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._busy = 0
        self._line: collections.deque = collections.deque()
        self._changed = threading.Condition()

    def acquire(self, alive: Callable[[], bool] = lambda: True, poll: float = 0.2) -> None:
        """Wait for a place; :class:`UIError` (:data:`CANCELLED`) as soon as ``alive()`` is false."""
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                while self._busy >= self.size or self._line[0] is not ticket:
                    self._changed.wait(poll)
                    if not alive():
                        raise UIError(CANCELLED)
            except BaseException:
                self._line.remove(ticket)
                self._changed.notify_all()
                raise
            self._line.popleft()
            self._busy += 1
            self._changed.notify_all()  # the next in line may fit too

    def release(self) -> None:
        """Give a place back."""
        with self._changed:
            if self._busy <= 0:
                raise RuntimeError("FifoLane released more often than acquired")
            self._busy -= 1
            self._changed.notify_all()

    @property
    def busy(self) -> int:
        """How many hold a place now."""
        with self._changed:
            return self._busy


class Lanes:
    """Two lanes: short clips (``short_workers`` at a time, default ``workers``), and long clips
    or batches (``workers`` at a time), each first come, first served (:class:`FifoLane`).

    A short clip's analysis leaves a core idle part of the time (the ASR thread and the speech
    member wait on each other, the page's plots are drawn), so a few short ones at once serve
    more visitors than one; their memory is bounded by the short-clip length. Long work keeps
    its own, narrower lane, so its memory (up to the audio cap) is never multiplied."""

    def __init__(self, long_seconds: float, workers: int = 1, short_workers: int | None = None):
        self.long_seconds = float(long_seconds)
        self.short = FifoLane(workers if short_workers is None else short_workers)
        self.long = FifoLane(workers)

    @contextlib.contextmanager
    def slot(self, seconds: float, alive: Callable[[], bool] = lambda: True):
        """Hold the lane for work on ``seconds`` of audio; :class:`UIError` when the client left."""
        lane = self.short if seconds <= self.long_seconds else self.long
        lane.acquire(alive)
        try:
            if not alive():
                raise UIError(CANCELLED)
            yield
        finally:
            lane.release()


# --------------------------------------------------------------------------- result folders

_results_root: Path | None = None
_lock = threading.Lock()


def results_root() -> Path:
    """This process's folder of download files (``/tmp/emoens-app-XXXX``)."""
    global _results_root
    with _lock:
        if _results_root is None or not _results_root.is_dir():
            _results_root = Path(tempfile.mkdtemp(prefix="emoens-app-"))
        return _results_root


def result_dir(ttl: float = RESULT_TTL_SECONDS) -> Path:
    """A fresh folder for one download file; folders older than ``ttl`` seconds are removed."""
    root = results_root()
    now = time.time()
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if now - old.stat().st_mtime > ttl:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))
