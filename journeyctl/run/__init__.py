"""`run` and `serve`: the imperative shell around the engine, where effects happen.

- `once`: one `run` — open the store, take the run lock, import, tick, record the run.
- `tick`: one tick against a store — advance due contacts, deliver what was decided.
- `idle`: the idle cron minute answered without loading the project (store.is_idle).
- `summary`: the run summary (line and JSON), shared by the full run and the idle minute.
- `imports`: contacts and events files into the store.
- `serve`: APScheduler calling `once` on an interval.

Nothing is imported here: the idle minute must not pay for the tick's modules.
"""
