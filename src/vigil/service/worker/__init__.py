"""The camera worker: `camera` (ingest, recording, analytics of one camera), `process` (its
process entry point and pipe to the supervisor), `mailbox` (frames handed to analytics)."""
