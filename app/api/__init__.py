"""The HTTP API (`/api/v1`): dependencies in `deps`, one router module per resource in `routes`."""
