// The native channels StoryloomClient builds (this runs on the Dart VM, so StoryloomClient.auto takes its native
// side): TLS follows the gateway's scheme, and keepalive is on within what the server accepts.
import 'package:grpc/grpc.dart' show ClientChannel;
import 'package:storyloom/native.dart';
import 'package:test/test.dart';

ClientChannel channelOf(StoryloomClient client) => client.channel as ClientChannel;

void main() {
  test('auto with an https gateway speaks TLS to its host and port', () async {
    final client = StoryloomClient.auto(apiKey: 'k', gateway: Uri.parse('https://stories.example.com'));
    final channel = channelOf(client);
    expect(channel.host, 'stories.example.com');
    expect(channel.port, 443);
    expect(channel.options.credentials.isSecure, isTrue);
    await client.close();
  });

  test('auto with an http gateway speaks cleartext; grpcSecure and grpcHost/grpcPort override', () async {
    final local = StoryloomClient.auto(apiKey: 'k', gateway: Uri.parse('http://127.0.0.1:8080'));
    expect(channelOf(local).options.credentials.isSecure, isFalse);
    expect(channelOf(local).port, 8080);

    final direct = StoryloomClient.auto(
        apiKey: 'k', gateway: Uri.parse('https://stories.example.com'), grpcHost: '10.0.2.2', grpcPort: 50051, grpcSecure: false);
    expect(channelOf(direct).host, '10.0.2.2');
    expect(channelOf(direct).port, 50051);
    expect(channelOf(direct).options.credentials.isSecure, isFalse);
    await Future.wait([local.close(), direct.close()]);
  });

  test('native channels ping within what the server allows, and give up on a silent connection', () async {
    for (final client in [
      connectNative('127.0.0.1', apiKey: 'k'),
      StoryloomClient.auto(apiKey: 'k', gateway: Uri.parse('http://127.0.0.1:8080')),
    ]) {
      final keepAlive = channelOf(client).options.keepAlive;
      // The server accepts a ping every 10 s at most (grpc.http2.min_ping_interval_without_data_ms).
      expect(keepAlive.pingInterval, greaterThanOrEqualTo(const Duration(seconds: 10)));
      expect(keepAlive.pingInterval, lessThanOrEqualTo(const Duration(seconds: 30)));
      expect(keepAlive.timeout, lessThanOrEqualTo(const Duration(seconds: 20)));
      await client.close();
    }
  });
}
