"""The shared detector: one process runs inference for every camera worker.

`server` (the process and the supervisor's handle on it), `client` (the `Detector` a camera
worker uses) and `messages` (what they say to each other over a socket per client).
"""
