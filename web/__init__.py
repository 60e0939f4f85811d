"""The web console (server-rendered pages, in French) and the HTTP door for events.

An entry point beside `tasks/` and `scheduler/`: it imports `workflow`, never the reverse.
`accompagnement web serve` runs it with uvicorn; `create_app` builds it.
"""
