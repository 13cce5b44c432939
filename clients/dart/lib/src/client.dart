import 'dart:async';
import 'dart:math';
import 'dart:typed_data';

import 'package:fixnum/fixnum.dart';
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, GrpcOrGrpcWebClientChannel, StatusCode;
import 'package:grpc/service_api.dart';

import 'api_key.dart';
import 'errors.dart';
import 'generated/storyloom/v1/conversation.pbgrpc.dart';
import 'generated/storyloom/v1/media.pbgrpc.dart';
import 'generated/storyloom/v1/story.pbgrpc.dart';
import 'generated/storyloom/v1/task.pbgrpc.dart';

/// How server streams re-attach after a dropped connection.
class ReattachPolicy {
  const ReattachPolicy({
    this.maxAttempts = 5,
    this.initialBackoff = const Duration(milliseconds: 500),
    this.maxBackoff = const Duration(seconds: 5),
  });

  /// Re-attach attempts in a row without a new event before giving up.
  final int maxAttempts;
  final Duration initialBackoff;
  final Duration maxBackoff;

  Duration backoff(int attempt) {
    final ms = initialBackoff.inMilliseconds * pow(2, attempt - 1);
    return Duration(milliseconds: min(ms.toInt(), maxBackoff.inMilliseconds));
  }
}

/// The Storyloom services on one channel, with the API key on every call, plus helpers for what every app does:
/// chat with a streamed reply, follow a task's progress, download media. Streams re-attach after a dropped
/// connection with `after_sequence`, so each event is delivered exactly once and in order.
///
/// The channel decides the protocol: a `ClientChannel` (native gRPC, `package:storyloom/native.dart`), a
/// `GrpcWebClientChannel` (gRPC-Web through the Envoy gateway, `package:storyloom/web.dart`), or
/// [GrpcOrGrpcWebClientChannel] for both (see [StoryloomClient.auto]).
class StoryloomClient {
  StoryloomClient(this.channel, {required String apiKey, this.reattach = const ReattachPolicy(), Duration? defaultTimeout})
      : _interceptors = [ApiKeyInterceptor(apiKey)],
        _unary = CallOptions(timeout: defaultTimeout ?? const Duration(seconds: 30));

  /// Native gRPC to [grpcHost]:[grpcPort] on Android, iOS and desktop; gRPC-Web through the Envoy [gateway]
  /// (e.g. `http://127.0.0.1:8080`) when compiled for the web. The gateway also carries native gRPC on the same
  /// port, so `grpcHost`/`grpcPort` may be the gateway too.
  factory StoryloomClient.auto({
    required String apiKey,
    required Uri gateway,
    String? grpcHost,
    int? grpcPort,
    bool grpcSecure = false,
  }) =>
      StoryloomClient(
        GrpcOrGrpcWebClientChannel.toSeparateEndpoints(
          grpcHost: grpcHost ?? gateway.host,
          grpcPort: grpcPort ?? gateway.port,
          grpcTransportSecure: grpcSecure,
          grpcWebHost: gateway.host,
          grpcWebPort: gateway.port,
          grpcWebTransportSecure: gateway.scheme == 'https',
        ),
        apiKey: apiKey,
      );

  final ClientChannel channel;
  final ReattachPolicy reattach;
  final List<ClientInterceptor> _interceptors;
  final CallOptions _unary;

  // The generated stubs. Unary calls get a default deadline; streams have none (they can run for minutes).
  late final ConversationServiceClient conversations = ConversationServiceClient(channel, interceptors: _interceptors);
  late final StoryServiceClient stories = StoryServiceClient(channel, interceptors: _interceptors);
  late final TaskServiceClient tasks = TaskServiceClient(channel, interceptors: _interceptors);
  late final MediaServiceClient media = MediaServiceClient(channel, interceptors: _interceptors);

  /// Closes the channel (in-flight calls finish first).
  Future<void> close() => channel.shutdown();

  /// Runs a unary call with the default deadline, turning gRPC errors into [StoryloomException].
  Future<R> unary<R>(ResponseFuture<R> Function(CallOptions options) invoke) async {
    try {
      return await invoke(_unary);
    } on GrpcError catch (error) {
      throw StoryloomException.fromGrpcError(error);
    }
  }

  // --- chat ----------------------------------------------------------------------------------------------------

  Future<Conversation> createConversation({String title = ''}) => unary((options) => conversations.createConversation(
        CreateConversationRequest(parent: 'users/me', conversation: Conversation(title: title), requestId: newRequestId()),
        options: options,
      ));

  /// Sends [text] and yields the reply's events: `accepted`, `delta`s (append `event.delta.text`), then
  /// `finished` (the stored message) or `error`. If the connection drops, the reply is re-attached with
  /// StreamReply after the last sequence seen; before the first event, the message is sent again with the same
  /// request id, which stores nothing new (AIP-155). A failed reply ends with an `error` event, not an exception.
  Stream<ReplyEvent> sendMessage(String conversation, String text) {
    final requestId = newRequestId();
    var reply = '';
    return _resumable<ReplyEvent>(
      open: (after) => reply.isEmpty
          ? conversations.sendMessage(SendMessageRequest(conversation: conversation, text: text, requestId: requestId))
          : conversations.streamReply(StreamReplyRequest(name: reply, afterSequence: after)),
      sequenceOf: (event) {
        if (event.reply.isNotEmpty) reply = event.reply;
        return event.sequence;
      },
      isLast: (event) => event.hasFinished() || event.hasError(),
    );
  }

  /// Re-attaches to a reply (in progress or finished) after [afterSequence].
  Stream<ReplyEvent> streamReply(String reply, {Int64? afterSequence}) => _resumable<ReplyEvent>(
        open: (after) => conversations.streamReply(StreamReplyRequest(name: reply, afterSequence: after)),
        sequenceOf: (event) => event.sequence,
        isLast: (event) => event.hasFinished() || event.hasError(),
        afterSequence: afterSequence,
      );

  // --- stories and tasks ---------------------------------------------------------------------------------------

  /// Starts writing a story; returns its task at once. Follow it with [watchTask]; its `target` is the story.
  Future<Task> createStory(CreateStoryRequest request) {
    final withDefaults = CreateStoryRequest()..mergeFromMessage(request);
    if (withDefaults.parent.isEmpty) withDefaults.parent = 'users/me';
    if (withDefaults.requestId.isEmpty) withDefaults.requestId = newRequestId();
    return unary((options) => stories.createStory(withDefaults, options: options));
  }

  Future<Story> getStory(String name) => unary((options) => stories.getStory(GetStoryRequest(name: name), options: options));

  /// A task's progress (stage, percent, ETA) until its terminal event, which carries the result or the error.
  /// Starts after [afterSequence] (0: every stored event); re-attaches after the last sequence seen.
  Stream<TaskEvent> watchTask(String name, {Int64? afterSequence}) => _resumable<TaskEvent>(
        open: (after) => tasks.watchTask(WatchTaskRequest(name: name, afterSequence: after)),
        sequenceOf: (event) => event.sequence,
        isLast: (event) => _terminal.contains(event.state),
        afterSequence: afterSequence,
      );

  Future<Task> cancelTask(String name) => unary((options) => tasks.cancelTask(CancelTaskRequest(name: name), options: options));

  static const _terminal = {TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELLED};

  // --- media ---------------------------------------------------------------------------------------------------

  /// The bytes of a media item (`media/{id}`). A dropped download resumes at the bytes received (`read_offset`).
  Future<Uint8List> downloadMedia(String name) async {
    final bytes = BytesBuilder(copy: false);
    var failures = 0;
    while (true) {
      try {
        await for (final chunk in media.getMedia(GetMediaRequest(name: name, readOffset: Int64(bytes.length)))) {
          bytes.add(chunk.data);
          failures = 0;
        }
        return bytes.takeBytes();
      } on GrpcError catch (error) {
        if (error.code != StatusCode.unavailable || ++failures > reattach.maxAttempts) {
          throw StoryloomException.fromGrpcError(error);
        }
      }
      await Future<void>.delayed(reattach.backoff(failures));
    }
  }

  // --- re-attaching streams ------------------------------------------------------------------------------------

  /// The events of a server stream opened by `open(after)`, each once and in order: a replayed event (at or
  /// below the last sequence seen) is dropped; a stream that ends or fails with UNAVAILABLE before its last
  /// event is opened again after the last sequence, with backoff, up to [ReattachPolicy.maxAttempts] times in a
  /// row without progress. Other errors become [StoryloomException]. Cancelling the subscription cancels the call.
  Stream<E> _resumable<E>({
    required ResponseStream<E> Function(Int64 afterSequence) open,
    required Int64 Function(E event) sequenceOf,
    required bool Function(E event) isLast,
    Int64? afterSequence,
  }) async* {
    var after = afterSequence ?? Int64.ZERO;
    var failures = 0;
    while (true) {
      try {
        await for (final event in open(after)) {
          final sequence = sequenceOf(event);
          if (sequence <= after) continue;
          after = sequence;
          failures = 0;
          yield event;
          if (isLast(event)) return;
        }
        // Ended without its last event: the connection was closed under us. Re-attach.
      } on GrpcError catch (error) {
        if (error.code != StatusCode.unavailable) throw StoryloomException.fromGrpcError(error);
      }
      failures += 1;
      if (failures > reattach.maxAttempts) {
        throw StoryloomException(StatusCode.unavailable,
            'the stream dropped ${failures - 1} times in a row without a new event; giving up');
      }
      await Future<void>.delayed(reattach.backoff(failures));
    }
  }
}

final _random = Random.secure();

/// A random UUID (version 4) for `request_id` fields, which make retries safe (AIP-155).
String newRequestId() {
  final b = List<int>.generate(16, (_) => _random.nextInt(256));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  final hex = b.map((x) => x.toRadixString(16).padLeft(2, '0')).join();
  return '${hex.substring(0, 8)}-${hex.substring(8, 12)}-${hex.substring(12, 16)}-'
      '${hex.substring(16, 20)}-${hex.substring(20)}';
}
