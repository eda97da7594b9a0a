"""Running the process: gunicorn settings and listeners, the embedded Redis, logs and their
redaction, Prometheus metrics, start-up checks."""
