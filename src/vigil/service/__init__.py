"""`vigil serve`: the live multi-camera service (workers, detector, recording, API, MQTT)."""
