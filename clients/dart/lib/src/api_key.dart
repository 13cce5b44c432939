import 'package:grpc/service_api.dart';

/// Adds the Storyloom API key to every call as `x-api-key` metadata (an HTTP header under gRPC-Web, which the
/// gateway passes on as metadata).
///
/// A key set on a call's own [CallOptions] (or `WebCallOptions`) wins, so one call can use another key.
class ApiKeyInterceptor extends ClientInterceptor {
  ApiKeyInterceptor(this.apiKey) {
    if (apiKey.isEmpty) throw ArgumentError.value(apiKey, 'apiKey', 'must not be empty');
  }

  final String apiKey;

  static const _header = 'x-api-key';

  // Not `CallOptions(metadata: {key}).mergedWith(options)`: grpc turns that into `options.mergedWith(...)` when
  // `options` is a WebCallOptions (so the result stays one), and the interceptor's key would then overwrite the
  // call's. Adding the key only where the call has none does not depend on merge order.
  CallOptions _withKey(CallOptions options) => options.metadata.keys.any((name) => name.toLowerCase() == _header)
      ? options
      : options.mergedWith(CallOptions(metadata: {_header: apiKey}));

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
