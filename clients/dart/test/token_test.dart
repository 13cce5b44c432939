// BearerTokenInterceptor: the provider's current token on every call as authorization: Bearer, unless the call brings
// its own; a signed-out user's call fails before it is sent. (Not yet run: see the README's "What is verified".)
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;
import 'package:grpc/service_api.dart';
import 'package:storyloom/storyloom.dart';
import 'package:test/test.dart';

class _Captured implements Exception {}

CallOptions passedOn(ClientInterceptor interceptor, CallOptions options) {
  CallOptions? seen;
  final method = ClientMethod<String, String>('/storyloom.v1.TaskService/GetTask', (q) => q.codeUnits, String.fromCharCodes);
  expect(
      () => interceptor.interceptUnary<String, String>(method, 'request', options, (_, _, passed) {
            seen = passed;
            throw _Captured();
          }),
      throwsA(isA<_Captured>()));
  return seen!;
}

/// The metadata the call would send: its own, then what its providers add.
Future<Map<String, String>> sent(CallOptions options) async {
  final metadata = Map.of(options.metadata);
  for (final provider in options.metadataProviders) {
    await provider(metadata, 'https://stories.example.com/storyloom.v1.TaskService');
  }
  return metadata;
}

void main() {
  test('asks for the current token on each call and sends it as a bearer', () async {
    final tokens = ['eyJ.first.sig', 'eyJ.refreshed.sig'];
    final interceptor = BearerTokenInterceptor(() async => tokens.removeAt(0));
    expect(await sent(passedOn(interceptor, CallOptions())), {'authorization': 'Bearer eyJ.first.sig'});
    expect(await sent(passedOn(interceptor, CallOptions())), {'authorization': 'Bearer eyJ.refreshed.sig'});
  });

  test("a call's own authorization wins", () async {
    final interceptor = BearerTokenInterceptor(() => 'eyJ.app.sig');
    final options = passedOn(interceptor, CallOptions(metadata: {'Authorization': 'Bearer eyJ.own.sig'}));
    expect(await sent(options), {'Authorization': 'Bearer eyJ.own.sig'});
  });

  test('a signed-out user gets UNAUTHENTICATED before anything is sent', () async {
    final interceptor = BearerTokenInterceptor(() => null);
    await expectLater(sent(passedOn(interceptor, CallOptions())),
        throwsA(isA<GrpcError>().having((e) => e.code, 'code', StatusCode.unauthenticated)));
  });

  test('exactly one credential', () {
    expect(credentialInterceptor(apiKey: 'sl_k'), isA<ApiKeyInterceptor>());
    expect(credentialInterceptor(token: () => 'eyJ.a.b'), isA<BearerTokenInterceptor>());
    expect(() => credentialInterceptor(), throwsArgumentError);
    expect(() => credentialInterceptor(apiKey: 'sl_k', token: () => 'eyJ.a.b'), throwsArgumentError);
  });
}
