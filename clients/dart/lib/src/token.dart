import 'dart:async';

import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError;
import 'package:grpc/service_api.dart';

import 'api_key.dart';

/// The signed-in user's current ID token (a JWT) from the app's identity provider, asked for before every call so
/// that a refreshed token is used as soon as the provider has one. For example:
///
/// * Firebase: `() => FirebaseAuth.instance.currentUser?.getIdToken()`
/// * Supabase: `() => Supabase.instance.client.auth.currentSession?.accessToken`
/// * Clerk: the session's `getToken()`; Auth0: the stored credentials' `idToken`
///
/// Null or empty means signed out: the call fails with UNAUTHENTICATED before it is sent.
typedef TokenSource = FutureOr<String?> Function();

/// Adds the sign-in token to every call as `authorization: Bearer <token>` metadata (an HTTP header under
/// gRPC-Web). The server, and the gateway before it, verify it against the issuer's keys; see the README's
/// "Sign-in with tokens".
///
/// A call that brings its own `authorization` keeps it.
class BearerTokenInterceptor extends ClientInterceptor {
  BearerTokenInterceptor(this.token);

  final TokenSource token;

  static const _header = 'authorization';

  static bool _has(Map<String, String> metadata) => metadata.keys.any((name) => name.toLowerCase() == _header);

  // The token is asked for by a metadata provider, which may be asynchronous (an interceptor may not), when the
  // call starts. Merged the same way as ApiKeyInterceptor's key, so gRPC-Web options stay gRPC-Web options.
  CallOptions _withToken(CallOptions options) =>
      _has(options.metadata) ? options : options.mergedWith(CallOptions(providers: [_provide]));

  Future<void> _provide(Map<String, String> metadata, String uri) async {
    if (_has(metadata)) return;
    final value = await token();
    if (value == null || value.isEmpty) {
      throw GrpcError.unauthenticated('no sign-in token: the user is signed out');
    }
    metadata[_header] = 'Bearer $value';
  }

  @override
  ResponseFuture<R> interceptUnary<Q, R>(
    ClientMethod<Q, R> method,
    Q request,
    CallOptions options,
    ClientUnaryInvoker<Q, R> invoker,
  ) => invoker(method, request, _withToken(options));

  @override
  ResponseStream<R> interceptStreaming<Q, R>(
    ClientMethod<Q, R> method,
    Stream<Q> requests,
    CallOptions options,
    ClientStreamingInvoker<Q, R> invoker,
  ) => invoker(method, requests, _withToken(options));
}

/// The interceptor for the credential given: a token source, or an API key (exactly one of them).
ClientInterceptor credentialInterceptor({String? apiKey, TokenSource? token}) {
  if ((apiKey == null) == (token == null)) {
    throw ArgumentError('give either an apiKey or a token source, not both or neither');
  }
  return token != null ? BearerTokenInterceptor(token) : ApiKeyInterceptor(apiKey!);
}
