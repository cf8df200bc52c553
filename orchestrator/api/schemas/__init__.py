"""The typed shapes of every `/api/v1` body, one module per resource: the handlers answer with
them and the OpenAPI description is generated from them, so the two cannot disagree."""
