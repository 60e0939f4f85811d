"""The monthly revue de portefeuille: its production, the decisions acted at it, its recipients."""
