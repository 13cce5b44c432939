import 'package:grpc/grpc.dart' as grpc;
import 'package:grpc/service_api.dart' as api show ClientChannel;

/// Keepalive for native channels: while calls are in flight, a ping every 20 s, and the connection is dropped
/// when a ping goes unanswered for 10 s. A stream whose network went away (a phone changing from Wi-Fi to
/// mobile data) then fails with UNAVAILABLE within about half a minute and re-attaches, instead of hanging.
/// The server accepts pings every 10 s or less often; pinging more often gets the connection closed.
const keepAlive = grpc.ClientKeepAliveOptions(pingInterval: Duration(seconds: 20), timeout: Duration(seconds: 10));

/// A native gRPC channel to [host]:[port]: cleartext HTTP/2 unless [secure], with [keepAlive].
grpc.ClientChannel nativeChannel(String host, {int port = 50051, bool secure = false}) => grpc.ClientChannel(
      host,
      port: port,
      options: grpc.ChannelOptions(
        credentials: secure ? const grpc.ChannelCredentials.secure() : const grpc.ChannelCredentials.insecure(),
        // A phone that sleeps drops idle connections anyway; reconnecting is cheap.
        idleTimeout: const Duration(minutes: 2),
        keepAlive: keepAlive,
      ),
    );

/// StoryloomClient.auto's channel off the web: native gRPC to [grpcHost]:[grpcPort] (the gateway's host and
/// port by default, which carries native gRPC too), secure when [grpcSecure] says so or, by default, when the
/// gateway is https.
api.ClientChannel platformChannel({required Uri gateway, String? grpcHost, int? grpcPort, bool? grpcSecure}) =>
    nativeChannel(grpcHost ?? gateway.host,
        port: grpcPort ?? gateway.port, secure: grpcSecure ?? gateway.scheme == 'https');
