"""Storyloom: a gRPC backend for AI story apps."""
