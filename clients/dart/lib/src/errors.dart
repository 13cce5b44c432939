import 'dart:convert';

import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;

import 'generated/google/rpc/error_details.pb.dart' as rpc;
import 'generated/google/rpc/status.pb.dart' as rpc;

/// A Storyloom error: the gRPC status code and message, and the rich details every Storyloom error carries in
/// `grpc-status-details-bin` (a `google.rpc.Status`): exactly one `ErrorInfo` whose [reason] is the thing to
/// branch on (`TASK_NOT_FOUND`, `API_KEY_INVALID`, ...), `BadRequest` field violations for bad input, and a
/// `RetryInfo` delay when waiting helps.
///
/// It also stands for an error that arrives in-band, as the `error` of a terminal `TaskEvent` or `ReplyEvent`.
class StoryloomException implements Exception {
  StoryloomException(this.code, this.message, {this.reason = '', this.metadata = const {}, this.fieldViolations = const [], this.retryDelay});

  /// From a `google.rpc.Status` (the `error` of a terminal event, or the decoded status details of a call).
  factory StoryloomException.fromStatus(rpc.Status status) {
    var reason = '';
    var metadata = const <String, String>{};
    final violations = <rpc.BadRequest_FieldViolation>[];
    Duration? retryDelay;
    for (final any in status.details) {
      if (any.canUnpackInto(rpc.ErrorInfo.getDefault())) {
        final info = any.unpackInto(rpc.ErrorInfo());
        reason = info.reason;
        metadata = Map.unmodifiable(info.metadata);
      } else if (any.canUnpackInto(rpc.BadRequest.getDefault())) {
        violations.addAll(any.unpackInto(rpc.BadRequest()).fieldViolations);
      } else if (any.canUnpackInto(rpc.RetryInfo.getDefault())) {
        final delay = any.unpackInto(rpc.RetryInfo()).retryDelay;
        retryDelay = Duration(microseconds: delay.seconds.toInt() * 1000000 + delay.nanos ~/ 1000);
      }
    }
    return StoryloomException(status.code, status.message,
        reason: reason, metadata: metadata, fieldViolations: List.unmodifiable(violations), retryDelay: retryDelay);
  }

  /// From a failed call: decodes `grpc-status-details-bin` when the server sent it.
  factory StoryloomException.fromGrpcError(GrpcError error) {
    final encoded = error.trailers?['grpc-status-details-bin'];
    if (encoded != null && encoded.isNotEmpty) {
      try {
        // Binary metadata is base64, usually without padding.
        final padded = encoded.padRight((encoded.length + 3) ~/ 4 * 4, '=');
        final status = rpc.Status.fromBuffer(base64.decode(padded));
        if (status.code == error.code) return StoryloomException.fromStatus(status);
      } on FormatException {
        // Not decodable: fall back to the code and message.
      }
    }
    return StoryloomException(error.code, error.message ?? '');
  }

  /// The gRPC status code (see [StatusCode]).
  final int code;
  final String message;

  /// The `ErrorInfo` reason, UPPER_SNAKE; empty when the error did not come from Storyloom (a proxy, the network).
  final String reason;
  final Map<String, String> metadata;
  final List<rpc.BadRequest_FieldViolation> fieldViolations;

  /// How long to wait before trying again, when the server said so (RESOURCE_EXHAUSTED, UNAVAILABLE).
  final Duration? retryDelay;

  bool get isUnauthenticated => code == StatusCode.unauthenticated;
  bool get isNotFound => code == StatusCode.notFound;

  @override
  String toString() {
    final parts = [if (reason.isNotEmpty) reason, message, for (final v in fieldViolations) '${v.field}: ${v.description}'];
    return 'StoryloomException(${_codeName(code)}): ${parts.join('; ')}';
  }
}

String _codeName(int code) => const {
      0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND',
      6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED',
      11: 'OUT_OF_RANGE', 12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS',
      16: 'UNAUTHENTICATED',
    }[code] ??
    '$code';
