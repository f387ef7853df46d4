"""bars."""
