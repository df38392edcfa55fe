"""posture-profile HTTP service: the FastAPI app, history storage, `posture serve` and `posture users`.

`app.main.create_app(settings)` builds the application; settings come from the environment
(`app.settings.Settings`, prefix `POSTURE_`).
"""
