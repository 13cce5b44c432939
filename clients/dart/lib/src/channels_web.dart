import 'package:grpc/grpc_web.dart' show GrpcWebClientChannel;
import 'package:grpc/service_api.dart' as api show ClientChannel;

/// StoryloomClient.auto's channel in a browser: gRPC-Web to the gateway (the grpc* arguments are for native
/// builds). Browsers keep their own connections alive; the streams' watchdog covers the rest.
api.ClientChannel platformChannel({required Uri gateway, String? grpcHost, int? grpcPort, bool? grpcSecure}) =>
    GrpcWebClientChannel.xhr(gateway);
