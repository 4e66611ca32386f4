"""Admin: payments."""
