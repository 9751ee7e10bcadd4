"""The IEC 61850-90-10 scheduler core: pure, no network I/O, timed by an injected clock.

Adapters use `engine.Engine` (commands, events, snapshot, forecast); the composition root builds it from a
`spec.ModelSpec` (see `discovery`), a `clock.Clock` and a `store.Store`. Import each name from its module.
"""
