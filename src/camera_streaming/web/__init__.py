"""The HTTP side: status page, JSON API, Prometheus metrics, snapshots."""
