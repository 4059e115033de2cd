"""The analytics screen (``/kiosk``): a public display of today's counts, occupancy, dwell,
queue waits and flow per hour, opened with a read-only display token.

`tokens.DisplayTokens` keeps the tokens; `screen.screen_data` aggregates what the screen shows
in SQL. Only numbers: the screen never receives a picture.
"""
