"""One job at a time on the server's device: the queue, positions, cancelling.

All of this runs on the event loop; only Job.run goes to the single worker thread. A
slot is reserved before a job's upload is read, so a full queue is refused before any
of its bytes are stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core.server.job import Job

log = logging.getLogger("neural-style.server")


class QueueFull(Exception):
    """No room for another job; the message is for people."""


class Scheduler:
    def __init__(self, max_queue: int, warm_up: Callable[[], None] | None = None) -> None:
        self.max_queue = max_queue
        self.waiting: list[Job] = []
        self.running: Job | None = None
        self.uploading = 0
        self.accepted = 0
        self.ready = warm_up is None
        self._warm_up = warm_up
        self._work = asyncio.Event()
        # One thread: jobs run one at a time, and torch releases the GIL while it computes.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="neural-style-job")
        self._closing = False

    # -- admission ------------------------------------------------------------------------
    def reserve(self) -> None:
        """Hold a place for a job about to be uploaded, or QueueFull."""
        if self._closing:
            raise QueueFull("The server is shutting down; send the job again when it is back.")
        if len(self.waiting) + self.uploading >= self.max_queue:
            raise QueueFull("The server is busy: %d job%s already waiting (the most it keeps); try again "
                            "when one has finished." % (self.max_queue, "" if self.max_queue == 1 else "s"))
        self.uploading += 1

    def release(self) -> None:
        self.uploading -= 1

    def submit(self, job: Job) -> None:
        """Queue an uploaded job (its place was reserved) and tell it where it stands."""
        self.waiting.append(job)
        self.accepted += 1
        job.announce(self.position(job))
        self._work.set()

    def position(self, job: Job) -> int:
        """How many jobs run or wait before this one."""
        return self.waiting.index(job) + (1 if self.running is not None else 0)

    def find(self, job_id: str) -> Job | None:
        """The waiting or running job with this id; None once it has ended (its thread may
        not have handed the worker back yet)."""
        for job in ([self.running] if self.running else []) + self.waiting:
            if job.id == job_id and not job.ended:
                return job
        return None

    def cancel(self, job: Job, reason: str) -> None:
        if job in self.waiting:
            self.waiting.remove(job)
            job.end_unstarted(reason)
            self._announce_positions()
        elif not job.ended:
            job.stop(reason)

    @property
    def busy(self) -> bool:
        return self.running is not None

    def _announce_positions(self) -> None:
        for job in self.waiting:
            job.announce(self.position(job))

    # -- the runner -----------------------------------------------------------------------
    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        if self._warm_up is not None:
            try:
                await loop.run_in_executor(self._executor, self._warm_up)
            except Exception:  # the first job then reports what is wrong, in plain words
                log.exception("warming up failed")
            self.ready = True
        while True:
            await self._work.wait()
            if not self.waiting:
                self._work.clear()
                continue
            job = self.waiting.pop(0)
            self.running = job
            job.announce(0)
            self._announce_positions()
            log.info("job %s started", job.id)
            try:
                await loop.run_in_executor(self._executor, job.run)
            finally:
                self.running = None
            log.info("job %s ended", job.id)

    async def shutdown(self, reason: str, wait: float) -> None:
        """Refuse new jobs, stop every job, and wait up to `wait` s for the running one."""
        self._closing = True
        for job in list(self.waiting):
            self.cancel(job, reason)
        running = self.running
        if running is not None:
            running.stop(reason)
            for _ in range(int(wait / 0.05)):
                if self.running is None:
                    break
                await asyncio.sleep(0.05)
        self._executor.shutdown(wait=False)
