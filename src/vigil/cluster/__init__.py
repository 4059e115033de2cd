"""A Vigil site across several machines: Ray runs the cameras, PostgreSQL is the shared store."""
