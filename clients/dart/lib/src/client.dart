import 'dart:async';
import 'dart:math';
import 'dart:typed_data';

import 'package:fixnum/fixnum.dart';
import 'package:grpc/grpc_or_grpcweb.dart' show GrpcError, StatusCode;
import 'package:grpc/service_api.dart';

import 'bundles.dart';
import 'channels.dart';
import 'errors.dart';
import 'generated/storyloom/v1/conversation.pbgrpc.dart';
import 'generated/storyloom/v1/media.pbgrpc.dart';
import 'generated/storyloom/v1/story.pbgrpc.dart';
import 'generated/storyloom/v1/task.pbgrpc.dart';
import 'resume.dart';
import 'token.dart';

/// The Storyloom services on one channel, with the credential on every call (an API key, or the signed-in user's
/// ID token from a [TokenSource]: Firebase, Clerk, Auth0, Supabase), plus helpers for what every app does:
/// chat with a streamed reply, follow a task's progress, download media. Streams re-attach after a dropped
/// connection with `after_sequence`, so each event is delivered exactly once and in order.
///
/// The channel decides the protocol: a `ClientChannel` (native gRPC, `package:storyloom/native.dart`), a
/// `GrpcWebClientChannel` (gRPC-Web through the Envoy gateway, `package:storyloom/web.dart`), or the one
/// [StoryloomClient.auto] picks for the platform.
class StoryloomClient {
  StoryloomClient(this.channel,
      {String? apiKey, TokenSource? token, this.reattach = const ReattachPolicy(), Duration? defaultTimeout})
      : _interceptors = [credentialInterceptor(apiKey: apiKey, token: token)],
        _unary = CallOptions(timeout: defaultTimeout ?? const Duration(seconds: 30));

  /// Native gRPC on Android, iOS and desktop; gRPC-Web through the Envoy [gateway] (e.g.
  /// `https://stories.example.com`) when compiled for the web. Native gRPC goes to [grpcHost]:[grpcPort], the
  /// gateway's host and port by default (the gateway carries native gRPC on the same port), over TLS when
  /// [grpcSecure] is true or, by default, when the gateway's scheme is https. Native channels keep the
  /// connection alive with pings, so a dead network is noticed and streams re-attach.
  factory StoryloomClient.auto({
    String? apiKey,
    TokenSource? token,
    required Uri gateway,
    String? grpcHost,
    int? grpcPort,
    bool? grpcSecure,
    ReattachPolicy reattach = const ReattachPolicy(),
  }) =>
      StoryloomClient(
        platformChannel(gateway: gateway, grpcHost: grpcHost, grpcPort: grpcPort, grpcSecure: grpcSecure),
        apiKey: apiKey,
        token: token,
        reattach: reattach,
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
    final request = SendMessageRequest(conversation: conversation, text: text, requestId: newRequestId());
    var reply = '';
    return resumable<ReplyEvent>(
      open: (after) => reply.isEmpty
          ? conversations.sendMessage(request) // the same request id each time: stored once
          : conversations.streamReply(StreamReplyRequest(name: reply, afterSequence: after)),
      sequenceOf: (event) {
        if (event.reply.isNotEmpty) reply = event.reply;
        return event.sequence;
      },
      isLast: _replyEnded,
      policy: reattach,
    );
  }

  /// A reply's events (`users/{user}/conversations/{c}/messages/{m}`, in progress or finished) after
  /// [afterSequence], re-attached like [sendMessage]'s. From the last event's sequence or later it yields
  /// nothing and ends at once.
  Stream<ReplyEvent> streamReply(String reply, {Int64? afterSequence}) => resumable<ReplyEvent>(
        open: (after) => conversations.streamReply(StreamReplyRequest(name: reply, afterSequence: after)),
        sequenceOf: (event) => event.sequence,
        isLast: _replyEnded,
        afterSequence: afterSequence,
        policy: reattach,
      );

  static bool _replyEnded(ReplyEvent event) => event.hasFinished() || event.hasError();

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
  /// Starts after [afterSequence] (0: every stored event); re-attaches after the last sequence seen. From the
  /// terminal event's sequence or later it yields nothing and ends at once.
  Stream<TaskEvent> watchTask(String name, {Int64? afterSequence}) => resumable<TaskEvent>(
        open: (after) => tasks.watchTask(WatchTaskRequest(name: name, afterSequence: after)),
        sequenceOf: (event) => event.sequence,
        isLast: (event) => _terminal.contains(event.state),
        afterSequence: afterSequence,
        policy: reattach,
      );

  Future<Task> cancelTask(String name) => unary((options) => tasks.cancelTask(CancelTaskRequest(name: name), options: options));

  // Final, not const: a constant set's elements may not override hashCode, and ProtobufEnum does.
  static final _terminal = {TaskState.TASK_STATE_SUCCEEDED, TaskState.TASK_STATE_FAILED, TaskState.TASK_STATE_CANCELLED};

  // --- media ---------------------------------------------------------------------------------------------------

  /// The bytes of a media item (`media/{id}`). A dropped download resumes at the bytes received (`read_offset`);
  /// one that stalls for [ReattachPolicy.idleTimeout] is cancelled and resumed the same way.
  Future<Uint8List> downloadMedia(String name) async {
    final bytes = BytesBuilder(copy: false);
    var failures = 0;
    while (true) {
      try {
        final idle = reattach.idleTimeout;
        final chunks = media.getMedia(GetMediaRequest(name: name, readOffset: Int64(bytes.length)));
        await for (final chunk in idle == null ? chunks : chunks.timeout(idle)) {
          bytes.add(chunk.data);
          failures = 0;
        }
        return bytes.takeBytes();
      } on TimeoutException {
        continue; // the watchdog: resume at once
      } on GrpcError catch (error) {
        if (error.code != StatusCode.unavailable || ++failures > reattach.maxAttempts) {
          throw StoryloomException.fromGrpcError(error);
        }
      }
      await Future<void>.delayed(reattach.backoff(failures));
    }
  }

  // --- bundles -------------------------------------------------------------------------------------------------

  /// Everything an offline app needs of a story (`users/me/stories/{id}`) in one verified bundle: GetStoryBundle
  /// streams a ZIP whose `manifest.json` lists every file with its size and SHA-256, and [verifyBundle] checks
  /// each before this returns (a [BundleCorruptException] otherwise). [onProgress] hears the bytes so far. A
  /// dropped download starts again (a bundle has no offset to resume from), at most [ReattachPolicy.maxAttempts]
  /// times on UNAVAILABLE.
  Future<StoryBundle> downloadBundle(String name, {void Function(int received)? onProgress}) async {
    var failures = 0;
    while (true) {
      final bytes = BytesBuilder(copy: false);
      try {
        await for (final chunk in stories.getStoryBundle(GetStoryBundleRequest(name: name))) {
          bytes.add(chunk.data);
          onProgress?.call(bytes.length);
        }
        return verifyBundle(bytes.takeBytes());
      } on GrpcError catch (error) {
        if (error.code != StatusCode.unavailable || ++failures > reattach.maxAttempts) {
          throw StoryloomException.fromGrpcError(error);
        }
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
