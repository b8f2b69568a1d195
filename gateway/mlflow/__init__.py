"""MLflow compatibility: the tracking REST API on the gateway (:mod:`gateway.mlflow.api`)."""
