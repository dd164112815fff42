"""The HTTP listener (SPEC §6): one-click unsubscribe, opens and clicks, the events API,
feedback, health and metrics, on Starlette served by uvicorn (`journeyctl serve --http`).

`tokens` signs and checks the links; `links` puts them into rendered messages (the engine's
renderer calls it); `app` is the ASGI application; `server` runs it beside the scheduler.
"""
