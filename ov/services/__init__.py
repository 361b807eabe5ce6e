"""Domain logic with no request objects."""
