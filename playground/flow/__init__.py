"""The run flow: the `Playground` service, sessions, routes, one run, recovery."""
