"""Admin: citizens."""
