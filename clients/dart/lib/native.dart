/// Native gRPC channels (Android, iOS, macOS, Windows, Linux; not the web): straight to the server
/// (`127.0.0.1:50051` under `make run`) or through the Envoy gateway, which passes gRPC through on its port.
library;

import 'package:grpc/grpc.dart';

import 'storyloom.dart';

export 'storyloom.dart';

/// A native gRPC channel to [host]:[port]: cleartext HTTP/2 unless [secure].
ClientChannel nativeChannel(String host, {int port = 50051, bool secure = false}) => ClientChannel(
      host,
      port: port,
      options: ChannelOptions(
        credentials: secure ? const ChannelCredentials.secure() : const ChannelCredentials.insecure(),
        // A phone that sleeps drops idle connections anyway; reconnecting is cheap.
        idleTimeout: const Duration(minutes: 2),
      ),
    );

/// A [StoryloomClient] over native gRPC.
StoryloomClient connectNative(String host, {required String apiKey, int port = 50051, bool secure = false}) =>
    StoryloomClient(nativeChannel(host, port: port, secure: secure), apiKey: apiKey);
