"""posture-profile HTTP service, in layers: core, storage, services and the HTTP api (docs/architecture.md).

`app.main.create_app(settings)` builds the application; settings come from the environment
(`app.core.settings.Settings`, prefix `POSTURE_`).
"""
