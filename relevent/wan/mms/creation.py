"""The libiec61850 model and server of an SCL document, built in a worker thread while the caller goes on.

At 100 reference-sized devices the model takes ~1 s of ctypes calls and `IedServer_createWithConfig` ~3.4 s
more (one value-cache lookup per attribute, without the GIL): the gateway serves its devices meanwhile.
`MmsServer` takes the model as soon as it is built (its own tables are Python work that overlaps the
server's creation), then the server.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass

from relevent.scl.model import SclDocument
from relevent.wan.mms.builder import BuiltModel, build_model
from relevent.wan.mms.lib import lib
from relevent.wan.mms.reports import add_report_blocks
from relevent.wan.mms.settings import MmsServerError, MmsSettings


@dataclass(frozen=True, slots=True)
class Built:
    """The model with its report blocks (their references)."""

    model: BuiltModel
    report_blocks: list[str]


class ServerCreation:
    """Owns the model and the server being created; `close()` frees both (after waiting for them)."""

    def __init__(self, doc: SclDocument, settings: MmsSettings) -> None:
        self.settings = settings
        self._closed = False
        self._built: Future[Built] = Future()
        self._server: Future[int] = Future()
        threading.Thread(target=self._create, args=(doc,), name="mms-create", daemon=True).start()

    def _create(self, doc: SclDocument) -> None:
        model: BuiltModel | None = None
        try:
            model = build_model(doc, self.settings.ied)
            built = Built(model, add_report_blocks(model, self.settings.reports))
        except BaseException as exc:  # noqa: BLE001 - handed over to whoever waits for the model
            if model is not None:
                model.destroy()
            self._built.set_exception(exc)
            self._server.set_exception(exc)
            return
        self._built.set_result(built)  # from here on `close` frees the model
        config = lib.IedServerConfig_create()
        try:
            lib.IedServerConfig_setMaxMmsConnections(config, self.settings.limits.max_connections)
            server = int(lib.IedServer_createWithConfig(model.ptr, None, config) or 0)
        except BaseException as exc:  # noqa: BLE001 - handed over to whoever waits for the server
            self._server.set_exception(exc)
            return
        finally:
            lib.IedServerConfig_destroy(config)  # the server copied what it needs
        if server:
            self._server.set_result(server)
        else:
            self._server.set_exception(MmsServerError("libiec61850 could not create the MMS server"))

    def built(self) -> Built:
        """The model, once built (waits for the worker thread; raises what building raised)."""
        return self._built.result()

    def server(self) -> int:
        """The IedServer, once created (waits for the worker thread; raises what creating raised)."""
        return self._server.result()

    def close(self) -> None:
        """Destroy the server and the model (after waiting for them); idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            built = self._built.result()
        except Exception:  # noqa: BLE001 - a failed build freed what it had made
            return
        if self._server.exception() is None:  # else no server was created: only the model to free
            lib.IedServer_destroy(self._server.result())
        built.model.destroy()
