// The re-attach loop under StoryloomClient's streams (watchTask, sendMessage, streamReply), driven with scripted
// streams that behave like the server: WatchTask and StreamReply replay the events after `after_sequence`, and
// end cleanly with nothing to send when asked for events after the last one.
import 'dart:async';

import 'package:fixnum/fixnum.dart';
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;
import 'package:storyloom/src/resume.dart';
import 'package:storyloom/storyloom.dart' show StoryloomException;
import 'package:test/test.dart';

class Event {
  const Event(this.sequence, {this.last = false});

  final int sequence;
  final bool last;
}

/// A server's log of [length] events (the last one terminal), sent after [after] like WatchTask does; it stops
/// after event [until] when given, then fails with [thenError] or, without one, ends cleanly.
Stream<Event> serve(int after, int length, {int? until, Object? thenError}) async* {
  for (var sequence = after + 1; sequence <= (until ?? length); sequence++) {
    yield Event(sequence, last: sequence == length);
  }
  if (thenError != null) throw thenError;
}

/// Opens the scripted streams in turn and records the `after_sequence` of each call.
class Script {
  Script(this.attempts);

  final List<Stream<Event> Function(int after)> attempts;
  final opened = <int>[];

  Stream<Event> open(Int64 after) {
    opened.add(after.toInt());
    if (opened.length > attempts.length) throw StateError('opened ${opened.length} times: more than scripted');
    return attempts[opened.length - 1](after.toInt());
  }
}

const quick = ReattachPolicy(initialBackoff: Duration(milliseconds: 1), maxBackoff: Duration(milliseconds: 1), idleTimeout: null);

/// Any wait between attempts would outlast the test: what these tests re-open, they re-open at once.
const noPatience = ReattachPolicy(initialBackoff: Duration(minutes: 10), maxBackoff: Duration(minutes: 10), idleTimeout: null);

Stream<Event> resume(Script script, {int after = 0, ReattachPolicy policy = quick}) => resumable<Event>(
      open: script.open,
      sequenceOf: (event) => Int64(event.sequence),
      isLast: (event) => event.last,
      afterSequence: Int64(after),
      policy: policy,
    );

Future<List<int>> sequences(Stream<Event> events) =>
    events.map((event) => event.sequence).toList().timeout(const Duration(seconds: 10));

void main() {
  group('a clean end is not a drop', () {
    test('watching from the last event yields nothing and ends at once, without waiting to re-attach', () async {
      final script = Script([(after) => serve(after, 3), (after) => serve(after, 3)]);
      expect(await sequences(resume(script, after: 3, policy: noPatience)), isEmpty);
      // The one check: the stream replayed from the start, whose last event (3) is where the caller was.
      expect(script.opened, [3, 0]);
    });

    test('watching from past the end does the same', () async {
      final script = Script([(after) => serve(after, 3), (after) => serve(after, 3)]);
      expect(await sequences(resume(script, after: 10, policy: noPatience)), isEmpty);
      expect(script.opened, [10, 0]);
    });

    test('one short of the end yields only the last event', () async {
      final script = Script([(after) => serve(after, 3)]);
      expect(await sequences(resume(script, after: 2, policy: noPatience)), [3]);
      expect(script.opened, [2]);
    });

    test('a server that ends early (going away politely) is replayed from the start: the rest arrives once',
        () async {
      final script = Script([(after) => serve(after, 5, until: 3), (after) => serve(after, 5)]);
      expect(await sequences(resume(script, after: 1, policy: noPatience)), [2, 3, 4, 5]);
      expect(script.opened, [1, 0]);
    });

    test('a stream that keeps ending early is a drop: it gives up with UNAVAILABLE after the attempts', () async {
      final script = Script(List.generate(10, (_) => (int after) => serve(after, 5, until: 2)));
      const twice = ReattachPolicy(
          maxAttempts: 2, initialBackoff: Duration(milliseconds: 1), maxBackoff: Duration(milliseconds: 1), idleTimeout: null);
      await expectLater(resume(script, after: 2, policy: twice).toList(),
          throwsA(isA<StoryloomException>().having((error) => error.code, 'code', StatusCode.unavailable)));
      expect(script.opened, [2, 0, 2, 0, 2, 0]);
    });
  });

  group('drops', () {
    test('UNAVAILABLE re-attaches after the last event delivered, and no event comes twice', () async {
      final script = Script([
        (after) => serve(after, 5, until: 2, thenError: const GrpcError.unavailable('connection reset')),
        (after) => serve(0, 5), // a server that replays more than asked: the replayed events are dropped
      ]);
      expect(await sequences(resume(script)), [1, 2, 3, 4, 5]);
      expect(script.opened, [0, 2]);
    });

    test('other errors are not retried: they end the stream as a StoryloomException with their code', () async {
      final script = Script([(after) => serve(after, 5, until: 1, thenError: const GrpcError.notFound('no such task'))]);
      await expectLater(
          resume(script).map((event) => event.sequence),
          emitsInOrder([
            1,
            emitsError(isA<StoryloomException>().having((error) => error.code, 'code', StatusCode.notFound)),
            emitsDone,
          ]));
      expect(script.opened, [0]);
    });
  });

  group('the watchdog', () {
    test('a stream that stays silent is cancelled and re-attached at once after the last event', () async {
      var silentCancelled = false;
      final silent = StreamController<Event>(onCancel: () => silentCancelled = true);
      final script = Script([(after) => silent.stream, (after) => serve(after, 3)]);
      const watchful = ReattachPolicy(
          idleTimeout: Duration(milliseconds: 50), initialBackoff: Duration(minutes: 10), maxBackoff: Duration(minutes: 10));
      expect(await sequences(resume(script, after: 1, policy: watchful)), [2, 3]);
      expect(script.opened, [1, 1]);
      expect(silentCancelled, isTrue);
    });

    test('is off when idleTimeout is null', () async {
      final silent = StreamController<Event>();
      final script = Script([(after) => silent.stream]);
      final events = resume(script, policy: quick).map((event) => event.sequence).toList();
      silent
        ..add(const Event(1))
        ..add(const Event(2, last: true));
      expect(await events.timeout(const Duration(seconds: 10)), [1, 2]);
      expect(script.opened, [0]);
    });
  });

  test('cancelling the subscription cancels the call', () async {
    var cancelled = false;
    final live = StreamController<Event>(onCancel: () => cancelled = true);
    final script = Script([(after) => live.stream]);
    final first = resume(script).first;
    live.add(const Event(1));
    expect((await first).sequence, 1);
    await pumpEventQueue();
    expect(cancelled, isTrue);
  });

  test('backoff doubles from the initial wait up to the cap', () {
    const policy = ReattachPolicy(initialBackoff: Duration(milliseconds: 500), maxBackoff: Duration(seconds: 5));
    expect([for (var attempt = 1; attempt <= 6; attempt++) policy.backoff(attempt).inMilliseconds],
        [500, 1000, 2000, 4000, 5000, 5000]);
  });
}
