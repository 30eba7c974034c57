"""Silver's tables, and how the ones written as the rows that changed identify their rows."""

from __future__ import annotations

from c360.storage.publish import TableKey

RECORDS = "silver.person_records"
MATCH_PAIRS = "silver.match_pairs"
SCORED = "silver.scored_pairs"  # every pair the clustering read, so an incremental run rescores only its changes
HUBS = "silver.hub_identifiers"
IDENTITY = "silver.identity_map"
REDIRECTS = "silver.customer_id_redirects"
INTERACTIONS = "silver.interactions"
COMPONENTS = "silver.graph_components"  # the identity graph's components, so a change finds its part by key

RECORD_KEY = TableKey(("record_key",), "source")
EVENT_KEY = TableKey(("source", "event_id"), "occurred_at")
COMPONENT_KEY = TableKey(("record_key",), "component")
