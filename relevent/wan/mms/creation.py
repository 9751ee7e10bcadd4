"""The libiec61850 model and server of an SCL document, built in a worker thread while the caller goes on.

At 100 reference-sized devices the model takes ~1 s of ctypes calls and `IedServer_createWithConfig` ~3.4 s
more (one value-cache lookup per attribute, without the GIL): the gateway serves its devices meanwhile, and
`MmsServer` takes the result once it is there.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from relevent.scl.model import SclDocument
from relevent.wan.mms.builder import BuiltModel, build_model
from relevent.wan.mms.lib import lib
from relevent.wan.mms.reports import add_report_blocks
from relevent.wan.mms.settings import MmsSettings


@dataclass(frozen=True, slots=True)
class Created:
    """What the worker thread made: the model, its report blocks, and the server on it."""

    model: BuiltModel
    report_blocks: list[str]  # their references
    server: int


class ServerCreation:
    """Owns the model and the server being created; `close()` frees both (after waiting for them)."""

    def __init__(self, doc: SclDocument, settings: MmsSettings) -> None:
        self.settings = settings
        self._closed = False
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mms-create")
        self._created: Future[Created] = pool.submit(self._create, doc)
        pool.shutdown(wait=False)  # the thread ends with its one task

    def _create(self, doc: SclDocument) -> Created:
        model = build_model(doc, self.settings.ied)
        try:
            blocks = add_report_blocks(model, self.settings.reports)
            return Created(model, blocks, int(lib.IedServer_createWithConfig(model.ptr, None, None)))
        except BaseException:
            model.destroy()
            raise

    async def wait(self) -> None:
        """Until the server is created, without blocking the loop (raises what the creation raised)."""
        await asyncio.wrap_future(self._created)

    def result(self) -> Created:
        """The model and the server, once created (waits for the worker thread)."""
        return self._created.result()

    def close(self) -> None:
        """Destroy the server and the model (after waiting for them); idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            created = self._created.result()
        except Exception:  # noqa: BLE001 - a failed creation freed what it had made
            return
        lib.IedServer_destroy(created.server)
        created.model.destroy()
