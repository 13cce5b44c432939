"""The gRPC surface: servicers that translate protobuf to domain calls, and the interceptor."""
