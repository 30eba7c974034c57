"""Bronze: every source lands as-is, append-only, with ingest metadata; bad records go to quarantine."""
