"""The hit's path, from request to Redis: request facts, the pipeline and its steps (filters,
crawlers, address blocks), the recorder with its flusher, and the journal on disk."""
