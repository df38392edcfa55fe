"""Settings, database engine, API-key security and error answers: what every other layer uses."""
