"""Domain logic: plain async Python that knows nothing of gRPC or SQL."""
