"""Vigil on several machines: which node runs which camera, leases that fence stale writers,
and the head that keeps a Ray cluster of nodes busy (the layer between `api` and `service`)."""
