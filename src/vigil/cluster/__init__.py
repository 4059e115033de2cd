"""A Vigil site across several machines: Ray runs the cameras on the nodes, PostgreSQL is the
shared store, leases fence stale writers (the layer between `api` and `service`)."""
