/// gRPC-Web through the Envoy gateway, for Flutter web and other browser builds. The gateway allows any origin
/// (CORS) and the `x-api-key` and `authorization` headers; `make run` serves it on http://127.0.0.1:8080.
///
/// Browsers cannot stream requests, so `VoiceService/Converse` (bidirectional) is not available over gRPC-Web;
/// server streams (chat replies, task progress, media downloads) are.
library;

import 'package:grpc/grpc_web.dart' show GrpcWebClientChannel;

import 'storyloom.dart';

export 'storyloom.dart';

/// A gRPC-Web channel to the gateway, e.g. `Uri.parse('http://127.0.0.1:8080')`.
GrpcWebClientChannel grpcWebChannel(Uri gateway) => GrpcWebClientChannel.xhr(gateway);

/// A [StoryloomClient] over gRPC-Web through the gateway, with an API key or a sign-in token.
StoryloomClient connectWeb(Uri gateway, {String? apiKey, TokenSource? token}) =>
    StoryloomClient(grpcWebChannel(gateway), apiKey: apiKey, token: token);
