"""MQTT output of `vigil serve`: `topics` (names and payloads), `discovery` (Home Assistant
configs) and `publisher` (the connection, the retained state, the hub subscription)."""
