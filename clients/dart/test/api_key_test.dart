// ApiKeyInterceptor: the key on every call, unless the call brings its own, for CallOptions and WebCallOptions.
import 'package:grpc/service_api.dart';
// WebCallOptions is exported only by package:grpc/grpc_web.dart, which needs a browser; this is where it lives.
// ignore: implementation_imports
import 'package:grpc/src/client/call.dart' show WebCallOptions;
import 'package:storyloom/storyloom.dart';
import 'package:test/test.dart';

class _Captured implements Exception {}

/// The options the interceptor passes on for a unary call made with [options].
CallOptions passedOn(ApiKeyInterceptor interceptor, CallOptions options) {
  CallOptions? seen;
  final method = ClientMethod<String, String>('/storyloom.v1.TaskService/GetTask', (q) => q.codeUnits, String.fromCharCodes);
  expect(
      () => interceptor.interceptUnary<String, String>(method, 'request', options, (_, _, passed) {
            seen = passed;
            throw _Captured(); // no channel: stop at the invoker
          }),
      throwsA(isA<_Captured>()));
  return seen!;
}

void main() {
  final interceptor = ApiKeyInterceptor('sl_app_key');

  test('adds the key to a call without one', () {
    final options = passedOn(interceptor, CallOptions(timeout: const Duration(seconds: 3)));
    expect(options.metadata, {'x-api-key': 'sl_app_key'});
    expect(options.timeout, const Duration(seconds: 3));
  });

  test("a call's own key wins", () {
    expect(passedOn(interceptor, CallOptions(metadata: {'x-api-key': 'sl_other'})).metadata['x-api-key'], 'sl_other');
    expect(passedOn(interceptor, CallOptions(metadata: {'X-Api-Key': 'sl_other'})).metadata,
        {'X-Api-Key': 'sl_other'}); // header names are case-insensitive: not sent twice
  });

  test("a gRPC-Web call's own key wins too, and its options stay gRPC-Web options", () {
    final own = passedOn(interceptor, WebCallOptions(metadata: {'x-api-key': 'sl_other'}, withCredentials: true));
    expect(own.metadata['x-api-key'], 'sl_other');

    final added = passedOn(interceptor, WebCallOptions(bypassCorsPreflight: true));
    expect(added.metadata['x-api-key'], 'sl_app_key');
    expect(added, isA<WebCallOptions>().having((o) => o.bypassCorsPreflight, 'bypassCorsPreflight', isTrue));
  });

  test('refuses an empty key', () {
    expect(() => ApiKeyInterceptor(''), throwsArgumentError);
  });
}
