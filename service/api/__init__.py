"""HTTP routes: ingest (beacon hits), counters (widget), admin (sites), ops (health, metrics)."""
