"""`/api/audit`: the newest audit entries for the status page, filtered by actor, protocol or result.

Read from the gateway's own trail (one indexed query on the loop, at most `MAX_LIMIT` rows), with the
trail's state: whether start-up found it reaching its anchor, whether every entry since reached the store.
"""

from __future__ import annotations

from aiohttp import web

from relevent.obs.audit import AuditLog
from relevent.obs.audit_show import shown_value
from relevent.obs.audit_store import FILTERS, AuditError
from relevent.obs.http import BadRequests

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def add_audit_routes(app: web.Application, audit: AuditLog, bad: BadRequests) -> None:
    """Serve `GET /api/audit?limit=N&actor=&protocol=&result=`."""

    async def entries(request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return bad.answer("audit", request, f"limit is a whole number from 1 to {MAX_LIMIT}")
        try:
            rows = audit.latest(limit, {name: request.query.get(name, "") for name in FILTERS})
        except AuditError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        trail = {"head": audit.head, "intact_at_start": audit.intact_at_start, "writable": audit.writable}
        return web.json_response({
            "trail": trail,
            "entries": [{"seq": row.seq, "time": row.entry.time, "actor": row.entry.actor,
                         "protocol": row.entry.protocol, "peer": row.entry.peer, "command": row.entry.command,
                         "object": row.entry.object, "old": shown_value(row.entry.object, row.entry.old),
                         "new": shown_value(row.entry.object, row.entry.new), "result": row.entry.result,
                         "reason": row.entry.reason} for row in rows],
        })  # fmt: skip

    app.router.add_get("/api/audit", entries)
