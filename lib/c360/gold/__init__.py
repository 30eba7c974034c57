"""Gold: golden profiles, the interaction timeline, metrics, and their publication."""
