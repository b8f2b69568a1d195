"""The application layer: queries and commands that take the caller (a ``Principal``) and plain
or typed values, never an HTTP request. The REST routes, the web UI's API, reports and the
MLflow routes all call these."""
