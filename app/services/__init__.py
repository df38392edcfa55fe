"""Services between the routes and storage: the inference pool, the upload pipeline, the history
views (compare, trends) and the batch run's history store."""
