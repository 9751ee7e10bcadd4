"""The libiec61850 server of an SCL model, created in a worker thread while the caller goes on.

`IedServer_createWithConfig` takes seconds for a large site (at 100 reference-sized devices ~3.4 s, one
value-cache lookup per attribute) and runs through ctypes, so without the GIL: the rest of the gateway
(scheduler, store, start-up mirror) is built meanwhile, and `MmsServer` waits for it only when it needs it.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from relevent.scl.model import SclDocument
from relevent.wan.mms.builder import BuiltModel, build_model
from relevent.wan.mms.lib import lib
from relevent.wan.mms.reports import add_report_blocks
from relevent.wan.mms.settings import MmsSettings


class ServerCreation:
    """Owns a built model and the server being created from it; `close()` frees both."""

    def __init__(self, doc: SclDocument, settings: MmsSettings) -> None:
        self.settings = settings
        self.model: BuiltModel = build_model(doc, settings.ied)
        self._server: Future[int] | None = None
        self._closed = False
        try:
            self.report_blocks = add_report_blocks(self.model, settings.reports)
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mms-create")
            self._server = pool.submit(self._create)
            pool.shutdown(wait=False)  # the thread ends with its one task
        except BaseException:
            self.close()
            raise

    def _create(self) -> int:
        return int(lib.IedServer_createWithConfig(self.model.ptr, None, None))  # TLS: see `tls_front`

    def server(self) -> int:
        """The IedServer, once created (waits for the worker thread)."""
        assert self._server is not None
        return self._server.result()

    def close(self) -> None:
        """Destroy the server (after waiting for it) and the model; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            lib.IedServer_destroy(self._server.result())
        self.model.destroy()

