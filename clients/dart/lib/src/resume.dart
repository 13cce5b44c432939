import 'dart:async';
import 'dart:math';

import 'package:fixnum/fixnum.dart';
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;

import 'errors.dart';

/// How server streams (`watchTask`, `sendMessage`, `streamReply`) and downloads re-attach after a dropped
/// connection.
class ReattachPolicy {
  const ReattachPolicy({
    this.maxAttempts = 5,
    this.initialBackoff = const Duration(milliseconds: 500),
    this.maxBackoff = const Duration(seconds: 5),
    this.idleTimeout = const Duration(seconds: 45),
  });

  /// Re-attach attempts in a row without a new event before giving up with UNAVAILABLE.
  final int maxAttempts;
  final Duration initialBackoff;
  final Duration maxBackoff;

  /// The watchdog: a stream that delivers nothing for this long is cancelled and re-attached at once, after the
  /// last event seen. It catches connections that died without an error reaching us (a phone that changed
  /// network behind a proxy that still answers pings; gRPC-Web, which has no keepalive). A quiet but healthy
  /// stream costs one cheap re-attach per period, which is why watchdog re-attaches do not count as failures.
  /// Null turns the watchdog off.
  final Duration? idleTimeout;

  /// The wait before re-attach attempt [attempt] (1, 2, ...): exponential from [initialBackoff], capped.
  Duration backoff(int attempt) {
    final ms = initialBackoff.inMilliseconds * pow(2, attempt - 1);
    return Duration(milliseconds: min(ms.toInt(), maxBackoff.inMilliseconds));
  }
}

/// The events of a server stream opened by `open(afterSequence)`, each once and in order, up to and including
/// the event [isLast] accepts. What StoryloomClient's streams are built on; not exported.
///
/// - An event at or below the last sequence delivered is a replay and is dropped.
/// - A stream that fails with UNAVAILABLE is opened again after the last sequence, with backoff, up to
///   [ReattachPolicy.maxAttempts] times in a row without a new event. Other errors become [StoryloomException].
/// - A stream that ends cleanly before its last event is not taken for a drop: the server ends a stream that way,
///   with nothing to send, when asked for events after its end (a finished task or reply watched from its last
///   sequence). So it is opened once more from the start, at once: when that replay's last event is at or before
///   where we are, the stream is over and this one ends quietly; otherwise the missing events follow, and a
///   replay that also ends early counts as a drop.
/// - The watchdog ([ReattachPolicy.idleTimeout]) cancels a stream that stays silent and re-attaches at once.
///
/// Cancelling the subscription cancels the call.
Stream<E> resumable<E>({
  required Stream<E> Function(Int64 afterSequence) open,
  required Int64 Function(E event) sequenceOf,
  required bool Function(E event) isLast,
  Int64? afterSequence,
  ReattachPolicy policy = const ReattachPolicy(),
}) async* {
  var last = afterSequence ?? Int64.ZERO;
  var failures = 0;
  var replay = false;
  while (true) {
    final start = replay ? Int64.ZERO : last;
    replay = false;
    var endedCleanly = false;
    try {
      final idle = policy.idleTimeout;
      final events = idle == null ? open(start) : open(start).timeout(idle);
      await for (final event in events) {
        final sequence = sequenceOf(event);
        if (sequence <= last) {
          if (isLast(event)) return; // the stream ended at or before where the caller already is
          continue;
        }
        last = sequence;
        failures = 0;
        yield event;
        if (isLast(event)) return;
      }
      endedCleanly = true;
    } on TimeoutException {
      continue; // the watchdog fired; leaving the loop cancelled the silent call
    } on GrpcError catch (error) {
      if (error.code != StatusCode.unavailable) throw StoryloomException.fromGrpcError(error);
    }
    if (endedCleanly && start > Int64.ZERO) {
      replay = true;
      continue;
    }
    failures += 1;
    if (failures > policy.maxAttempts) {
      throw StoryloomException(StatusCode.unavailable,
          're-attached ${failures - 1} times in a row without a new event; giving up');
    }
    await Future<void>.delayed(policy.backoff(failures));
  }
}
