"""The business, by role: `domain/` (pure rules), `application/` (use cases), `adapters/`
(storage, files, email rendering), `bootstrap.py` (the wiring), `cli/` (the command), `demo/`."""
