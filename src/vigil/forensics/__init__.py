"""Forensic search over stored tracks: every finished track is summarised (`summary`:
path, zones visited, lines crossed, dwell, top speed) and stored (`store`), then searched by
camera, time, class, "passed through this area", "crossed this line this way", dwell and
speed. The engine needs only `summary`: `store` (SQLAlchemy) is imported where it is used."""
