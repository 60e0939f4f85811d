"""`python -m workflow` is the `accompagnement` command."""

from workflow.cli import main

raise SystemExit(main())
