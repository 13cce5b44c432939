/// Native gRPC channels (Android, iOS, macOS, Windows, Linux; not the web): straight to the server
/// (`127.0.0.1:50051` under `make run`) or through the Envoy gateway, which passes gRPC through on its port.
library;

import 'src/channels_native.dart';
import 'storyloom.dart';

export 'src/channels_native.dart' show nativeChannel;
export 'storyloom.dart';

/// A [StoryloomClient] over native gRPC (with keepalive; see [nativeChannel]), with an API key or a sign-in token.
StoryloomClient connectNative(String host,
        {String? apiKey, TokenSource? token, int port = 50051, bool secure = false}) =>
    StoryloomClient(nativeChannel(host, port: port, secure: secure), apiKey: apiKey, token: token);
