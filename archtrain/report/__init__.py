"""Terminal output and pictures."""
