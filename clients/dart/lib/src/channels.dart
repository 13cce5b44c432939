// The channel StoryloomClient.auto builds: native gRPC (HTTP/2, with keepalive) on Android, iOS and desktop,
// gRPC-Web through the gateway in a browser. Chosen at compile time, like package:grpc's own
// GrpcOrGrpcWebClientChannel, which cannot take ChannelOptions (so no keepalive) on its native side.
export 'channels_native.dart' if (dart.library.js_interop) 'channels_web.dart';
