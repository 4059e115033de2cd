"""Example third-party Vigil app: queue length and waiting time in a zone."""
