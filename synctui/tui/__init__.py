"""The Textual console (arrives with the console issues)."""
