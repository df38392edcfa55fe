"""One router per resource; `app.api.router` assembles them under `/api/v1`."""
