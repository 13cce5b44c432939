import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;
import 'package:grpc/protos.dart' as details show BadRequest, BadRequest_FieldViolation, ErrorInfo, RetryInfo;
import 'package:protobuf/protobuf.dart' show GeneratedMessage, InvalidProtocolBufferException;

import 'generated/google/rpc/status.pb.dart' as rpc;

/// A Storyloom error: the gRPC status code and message, and the rich details every Storyloom error carries (a
/// `google.rpc.Status`): exactly one `ErrorInfo` whose [reason] is the thing to branch on (`TASK_NOT_FOUND`,
/// `API_KEY_INVALID`, ...), `BadRequest` field violations for bad input, and a `RetryInfo` delay when waiting
/// helps.
///
/// Which detail classes: package:grpc decodes `grpc-status-details-bin` into [GrpcError.details], as its own
/// `ErrorInfo`, `BadRequest` and `RetryInfo` classes (`package:grpc/protos.dart`, also exported by
/// `package:grpc/grpc.dart`). This class reads those, and unpacks the in-band errors of terminal events into the
/// same classes, so an app sees one set. Use [reason], [fieldViolations] and [retryDelay] rather than the raw
/// details.
class StoryloomException implements Exception {
  StoryloomException(
    this.code,
    this.message, {
    this.reason = '',
    this.metadata = const {},
    this.fieldViolations = const [],
    this.retryDelay,
  });

  /// From a `google.rpc.Status`: the `error` of a terminal `TaskEvent` or `ReplyEvent`. A detail that cannot be
  /// decoded is skipped; the code and message always survive.
  factory StoryloomException.fromStatus(rpc.Status status) {
    final decoded = <GeneratedMessage>[];
    for (final any in status.details) {
      for (final empty in <GeneratedMessage>[details.ErrorInfo(), details.BadRequest(), details.RetryInfo()]) {
        if (!any.canUnpackInto(empty)) continue;
        try {
          decoded.add(any.unpackInto(empty));
        } on InvalidProtocolBufferException {
          // A malformed detail (a proxy's, or a truncated one): keep the rest of the error.
        }
      }
    }
    return StoryloomException._fromDetails(status.code, status.message, decoded);
  }

  /// From a failed call: its code and message, and the details package:grpc decoded from
  /// `grpc-status-details-bin`. A trailer that does not decode (a proxy's) leaves no details, never a parse
  /// error in place of the real one.
  factory StoryloomException.fromGrpcError(GrpcError error) =>
      StoryloomException._fromDetails(error.code, error.message ?? '', error.details ?? const []);

  factory StoryloomException._fromDetails(int code, String message, Iterable<GeneratedMessage> found) {
    var reason = '';
    var metadata = const <String, String>{};
    final violations = <details.BadRequest_FieldViolation>[];
    Duration? retryDelay;
    for (final detail in found) {
      if (detail is details.ErrorInfo) {
        reason = detail.reason;
        metadata = Map<String, String>.unmodifiable(detail.metadata);
      } else if (detail is details.BadRequest) {
        violations.addAll(detail.fieldViolations);
      } else if (detail is details.RetryInfo) {
        final delay = detail.retryDelay;
        retryDelay = Duration(microseconds: delay.seconds.toInt() * 1000000 + delay.nanos ~/ 1000);
      }
    }
    return StoryloomException(code, message,
        reason: reason, metadata: metadata, fieldViolations: List.unmodifiable(violations), retryDelay: retryDelay);
  }

  /// The gRPC status code (see [StatusCode]).
  final int code;
  final String message;

  /// The `ErrorInfo` reason, UPPER_SNAKE; empty when the error did not come from Storyloom (a proxy, the network).
  final String reason;
  final Map<String, String> metadata;

  /// The `BadRequest` field violations: `field_1` is the field's path (protoc_plugin renames a proto field named
  /// `field`), `description` what is wrong with it.
  final List<details.BadRequest_FieldViolation> fieldViolations;

  /// How long to wait before trying again, when the server said so (RESOURCE_EXHAUSTED, UNAVAILABLE).
  final Duration? retryDelay;

  bool get isUnauthenticated => code == StatusCode.unauthenticated;
  bool get isNotFound => code == StatusCode.notFound;

  @override
  String toString() {
    final parts = [
      if (reason.isNotEmpty) reason,
      message,
      for (final violation in fieldViolations) '${violation.field_1}: ${violation.description}',
    ];
    return 'StoryloomException(${StatusCode.name(code) ?? code}): ${parts.join('; ')}';
  }
}
