"""Generated from proto/storyloom/v1 by `make generate`."""
