"""The conventions' files: the shipped `workflow/data/conventions.toml`, and the override an
operator names (the `override` argument, else ACCOMPAGNEMENT_CONVENTIONS). Reading files and the
environment is the adapters' part; `workflow.domain.conventions.book_from` makes the book."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from workflow.domain.conventions import ConventionBook, book_from
from workflow.domain.errors import ConfigurationError

OVERRIDE_ENV = "ACCOMPAGNEMENT_CONVENTIONS"
SHIPPED = "workflow/data/conventions.toml"


def load_book(override: Path | None = None) -> ConventionBook:
    """The shipped conventions, overridden by `override` or ACCOMPAGNEMENT_CONVENTIONS."""
    shipped = resources.files("workflow").joinpath("data/conventions.toml")
    sources = [(SHIPPED, shipped.read_text(encoding="utf-8"))]
    if override is None and os.environ.get(OVERRIDE_ENV):
        override = Path(os.environ[OVERRIDE_ENV])
    if override is not None:
        try:
            sources.append((str(override), override.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigurationError(
                f"{override} : fichier de conventions illisible ({exc.strerror})"
            ) from exc
    return book_from(sources)
