"""The transition log: its hash chains, daily seals, export, and the person's data."""
