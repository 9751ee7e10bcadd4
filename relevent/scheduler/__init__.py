"""The IEC 61850-90-10 scheduler: a pure core (`core.Core`, given `now`) inside its runtime (`Engine`).

Adapters use `engine.Engine` (commands, events, snapshot, forecast); the composition root builds it from a
`spec.ModelSpec` (see `discovery`), a `clock.Clock` and a `store.Store` (only the runtime touches these).
Import each name from its module.
"""
