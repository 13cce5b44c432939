/// Storyloom for Dart and Flutter: the generated messages and gRPC stubs (`tool/generate.sh`), and
/// [StoryloomClient], which adds the API key or sign-in token, default deadlines, [StoryloomException] with the server's rich
/// error details, and streams that re-attach with `after_sequence`.
///
/// Platform-neutral: pick the channel with [StoryloomClient.auto], or import `package:storyloom/native.dart`
/// (native gRPC) or `package:storyloom/web.dart` (gRPC-Web through the Envoy gateway).
library;

// What the public API below takes or returns, so an app needs no other import to use it: sequences and offsets
// are Int64; StoryloomException.code is a StatusCode, its fieldViolations package:grpc's BadRequest_FieldViolation
// (the same class GrpcError.details holds); terminal events carry a google.rpc.Status; media is a
// google.api.HttpBody.
export 'package:fixnum/fixnum.dart' show Int64;
export 'package:grpc/grpc_or_grpcweb.dart' show StatusCode;
export 'package:grpc/protos.dart' show BadRequest_FieldViolation;

export 'src/api_key.dart';
export 'src/bundles.dart';
export 'src/client.dart';
export 'src/errors.dart';
export 'src/generated/google/api/httpbody.pb.dart' show HttpBody;
export 'src/generated/google/rpc/status.pb.dart' show Status;
// The messages, enums and stubs of every service.
export 'src/generated/storyloom/v1/conversation.pbgrpc.dart';
export 'src/generated/storyloom/v1/media.pbgrpc.dart';
export 'src/generated/storyloom/v1/requirements.pb.dart';
export 'src/generated/storyloom/v1/story.pbgrpc.dart';
export 'src/generated/storyloom/v1/task.pbgrpc.dart';
export 'src/generated/storyloom/v1/voice.pbgrpc.dart';
export 'src/resume.dart' show ReattachPolicy;
export 'src/token.dart';
