// StoryloomException from a failed call (GrpcError) and from an in-band error (a terminal event's
// google.rpc.Status): the details it reads, and that undecodable details never replace the real error.
import 'package:fixnum/fixnum.dart';
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;
import 'package:grpc/protos.dart' as rpc;
// ignore: implementation_imports
import 'package:grpc/src/shared/status.dart' show grpcErrorDetailsFromTrailers;
import 'package:protobuf/well_known_types/google/protobuf/any.pb.dart';
import 'package:storyloom/storyloom.dart';
import 'package:test/test.dart';

rpc.BadRequest_FieldViolation violation(String field, String description) => rpc.BadRequest_FieldViolation()
  ..field_1 = field
  ..description = description;

void main() {
  group('fromGrpcError', () {
    test('reads the ErrorInfo, BadRequest and RetryInfo that package:grpc decoded', () {
      final error = GrpcError.custom(StatusCode.invalidArgument, 'the story request is not valid', [
        rpc.ErrorInfo(reason: 'INVALID_ARGUMENT', domain: 'storyloom.v1')..metadata.addAll({'field': 'requirements.title'}),
        rpc.BadRequest(fieldViolations: [violation('requirements.title', 'at most 200 characters')]),
        rpc.RetryInfo(retryDelay: rpc.Duration(seconds: Int64(2), nanos: 500000000)),
      ]);

      final exception = StoryloomException.fromGrpcError(error);

      expect(exception.code, StatusCode.invalidArgument);
      expect(exception.message, 'the story request is not valid');
      expect(exception.reason, 'INVALID_ARGUMENT');
      expect(exception.metadata, {'field': 'requirements.title'});
      expect(exception.fieldViolations.map((v) => v.field_1), ['requirements.title']);
      expect(exception.retryDelay, const Duration(milliseconds: 2500));
      // The code's name comes from package:grpc's StatusCode.name.
      expect(exception.toString(),
          'StoryloomException(INVALID_ARGUMENT): INVALID_ARGUMENT; the story request is not valid; '
          'requirements.title: at most 200 characters');
    });

    test('a grpc-status-details-bin that does not decode (a proxy\'s) leaves the code and message', () {
      for (final garbage in ['not base64 at all!', 'AAAA', '////']) {
        // What package:grpc makes of such trailers when a call ends (the same function it uses).
        final error = grpcErrorDetailsFromTrailers(
            {'grpc-status': '${StatusCode.unavailable}', 'grpc-message': 'upstream reset', 'grpc-status-details-bin': garbage})!;

        final exception = StoryloomException.fromGrpcError(error);

        expect(exception.code, StatusCode.unavailable, reason: garbage);
        expect(exception.message, 'upstream reset', reason: garbage);
        expect(exception.reason, isEmpty);
        expect(exception.fieldViolations, isEmpty);
      }
    });

    test('an error without details (the network, a deadline) is just its code and message', () {
      final exception = StoryloomException.fromGrpcError(const GrpcError.deadlineExceeded('Deadline exceeded'));
      expect(exception.code, StatusCode.deadlineExceeded);
      expect(exception.toString(), 'StoryloomException(DEADLINE_EXCEEDED): Deadline exceeded');
    });
  });

  group('fromStatus (a terminal event\'s error)', () {
    test('unpacks the details into the same classes as GrpcError.details', () {
      final status = Status(code: StatusCode.resourceExhausted, message: 'too many stories at once', details: [
        Any.pack(rpc.ErrorInfo(reason: 'TOO_MANY_TASKS', domain: 'storyloom.v1')),
        Any.pack(rpc.RetryInfo(retryDelay: rpc.Duration(seconds: Int64(3)))),
      ]);

      final exception = StoryloomException.fromStatus(status);

      expect(exception.code, StatusCode.resourceExhausted);
      expect(exception.reason, 'TOO_MANY_TASKS');
      expect(exception.retryDelay, const Duration(seconds: 3));
    });

    test('a detail that does not decode is skipped, not thrown', () {
      final status = Status(code: StatusCode.internal, message: 'the story could not be written', details: [
        Any(typeUrl: 'type.googleapis.com/google.rpc.ErrorInfo', value: [0xff, 0xff]), // a truncated varint
        Any.pack(rpc.BadRequest(fieldViolations: [violation('scene_count', 'at most 12')])),
      ]);

      final exception = StoryloomException.fromStatus(status);

      expect(exception.code, StatusCode.internal);
      expect(exception.message, 'the story could not be written');
      expect(exception.reason, isEmpty);
      expect(exception.fieldViolations.single.description, 'at most 12');
    });
  });
}
