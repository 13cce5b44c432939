// A chat message with its reply printed as it is written, then a story with live progress, its scenes, and the
// first picture saved to a file. Against `make run`:
//
//   export STORYLOOM_API_KEY=$(cat data/dev-api-key)   # or STORYLOOM_TOKEN=<an ID token>, with token issuers set
//   dart run example/main.dart                      # native gRPC to 127.0.0.1:50051
//   dart run example/main.dart 127.0.0.1 8080       # native gRPC through the Envoy gateway
//
// In a Flutter web app, use `connectWeb(Uri.parse('http://127.0.0.1:8080'), apiKey: key)` from
// `package:storyloom/web.dart` instead; the rest is the same. A Flutter app with signed-in users passes
// `token: () => FirebaseAuth.instance.currentUser?.getIdToken()` (or its provider's equivalent) instead of a key.
import 'dart:io';

import 'package:storyloom/native.dart';

Future<void> main(List<String> args) async {
  final key = Platform.environment['STORYLOOM_API_KEY'] ?? '';
  final token = Platform.environment['STORYLOOM_TOKEN'] ?? '';
  if (key.isEmpty && token.isEmpty) {
    stderr.writeln('Set STORYLOOM_API_KEY (make run prints it; it is also in data/dev-api-key) or STORYLOOM_TOKEN.');
    exit(2);
  }
  final host = args.isNotEmpty ? args[0] : '127.0.0.1';
  final port = args.length > 1 ? int.parse(args[1]) : 50051;
  final client = token.isNotEmpty
      ? connectNative(host, port: port, token: () => token)
      : connectNative(host, port: port, apiKey: key);
  try {
    await chat(client);
    await story(client);
  } on StoryloomException catch (error) {
    stderr.writeln('Storyloom said no: $error');
    exitCode = error.isUnauthenticated ? 3 : 1;
  } finally {
    await client.close();
  }
}

Future<void> chat(StoryloomClient client) async {
  final conversation = await client.createConversation(title: 'From Dart');
  stdout.write('assistant: ');
  await for (final event in client.sendMessage(conversation.name, 'I would like a story about a brave turtle.')) {
    switch (event.whichEvent()) {
      case ReplyEvent_Event.delta:
        stdout.write(event.delta.text); // the reply, word by word
      case ReplyEvent_Event.finished:
        stdout.writeln();
      case ReplyEvent_Event.error:
        stdout.writeln();
        throw StoryloomException.fromStatus(event.error);
      case ReplyEvent_Event.accepted:
      case ReplyEvent_Event.notSet:
        break;
    }
  }
}

Future<void> story(StoryloomClient client) async {
  final task = await client.createStory(CreateStoryRequest(
    requirements: StoryRequirements(
      characters: [Character(name: 'Milo', description: 'a curious little robot')],
      setting: 'a city on the moon',
      tone: StoryTone.STORY_TONE_ADVENTUROUS,
    ),
    sceneCount: 2,
  ));
  TaskEvent? last;
  await for (final event in client.watchTask(task.name)) {
    final remaining = event.hasEstimatedRemaining() ? ' · about ${event.estimatedRemaining.seconds}s left' : '';
    stdout.writeln('${event.stage.padRight(13)} ${event.percent.toString().padLeft(3)} %$remaining  ${event.message}');
    last = event;
  }
  // watchTask ends with the task's terminal event (or throws), so `last` is that event.
  if (last == null) throw StateError('no events for ${task.name}');
  if (last.state != TaskState.TASK_STATE_SUCCEEDED) throw StoryloomException.fromStatus(last.error);
  final story = await client.getStory(task.target);
  stdout.writeln('\n${story.title}');
  for (final scene in story.scenes) {
    stdout.writeln('\n${scene.index + 1}. ${scene.title}\n${scene.text}');
  }
  if (story.scenes.isNotEmpty && story.scenes.first.hasPicture()) {
    final picture = story.scenes.first.picture;
    final bytes = await client.downloadMedia(picture.name);
    await File('scene-1.png').writeAsBytes(bytes);
    stdout.writeln('\nSaved the first picture to scene-1.png (${bytes.length} bytes, ${picture.contentType}).');
  }
}
