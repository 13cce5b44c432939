import 'package:grpc/service_api.dart';

/// Adds the Storyloom API key to every call as `x-api-key` metadata (an HTTP header under gRPC-Web, which the
/// gateway passes on as metadata).
///
/// Metadata set on a call's own [CallOptions] wins, so one call can use another key.
class ApiKeyInterceptor extends ClientInterceptor {
  ApiKeyInterceptor(this.apiKey) {
    if (apiKey.isEmpty) throw ArgumentError.value(apiKey, 'apiKey', 'must not be empty');
  }

  final String apiKey;

  CallOptions _withKey(CallOptions options) =>
      CallOptions(metadata: {'x-api-key': apiKey}).mergedWith(options);

  @override
  ResponseFuture<R> interceptUnary<Q, R>(
    ClientMethod<Q, R> method,
    Q request,
    CallOptions options,
    ClientUnaryInvoker<Q, R> invoker,
  ) => invoker(method, request, _withKey(options));

  @override
  ResponseStream<R> interceptStreaming<Q, R>(
    ClientMethod<Q, R> method,
    Stream<Q> requests,
    CallOptions options,
    ClientStreamingInvoker<Q, R> invoker,
  ) => invoker(method, requests, _withKey(options));
}
