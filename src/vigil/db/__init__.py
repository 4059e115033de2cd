"""The database layer: one SQL database (SQLite by default, or PostgreSQL) holding the
events, the recording index, the accounts and, for a cluster, the camera leases.

- `engine`: database URLs (`database_url`, `check_database_url`), the SQLAlchemy engine with
  SQLite's WAL and write-transaction set-up, `one_line_error`.
- `schema`: `Base` and every ORM row (events, segments, users, sessions, tokens, audit,
  login failures, camera leases, app states).
- `database`: `Database`, which opens a URL, brings the schema to the newest Alembic
  revision (``migrations/``) and hands out `read()` and `write()` sessions.
- `fencing`: writes fenced by camera leases (a stale lease epoch is refused).
- `app_states`: `AppStateStore`, the state each app of a camera saved (fenced too).

The stores (`vigil.events.store.EventStore`, `vigil.recording.index.SegmentIndex`,
`vigil.auth.store.AuthStore`, `AppStateStore`, `vigil.cluster.leases.LeaseStore`) each take
an open `Database`.
"""
