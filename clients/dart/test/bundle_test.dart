// verifyBundle against bundles made here the way the server makes them (manifest.json first, then the files): a
// good one verifies; a changed byte, a missing file, an unlisted scene path or another format are caught.
import 'dart:convert';
import 'dart:typed_data';

import 'package:archive/archive.dart';
import 'package:crypto/crypto.dart';
import 'package:storyloom/storyloom.dart';
import 'package:test/test.dart';

Uint8List bundle({Map<String, List<int>>? files, Map<String, List<int>>? stored, String format = bundleFormat,
    String scenePicture = 'media/a.png'}) {
  final listed = files ?? {'story.md': utf8.encode('# A\n\n![A](media/a.png)\n'), 'media/a.png': [1, 2, 3, 4]};
  final manifest = {
    'format': format,
    'story': {'name': 'users/u/stories/s', 'title': 'A'},
    'scenes': [
      {'index': 0, 'title': 'A', 'text': 'Once.', 'picture': {'full': scenePicture}},
    ],
    'files': [
      for (final entry in listed.entries)
        {'path': entry.key, 'content_type': 'application/octet-stream', 'size_bytes': entry.value.length,
         'sha256': sha256.convert(entry.value).toString(), 'purpose': 'full'},
    ],
  };
  final archive = Archive()..addFile(ArchiveFile.bytes('manifest.json', utf8.encode(jsonEncode(manifest))));
  for (final entry in (stored ?? listed).entries) {
    archive.addFile(ArchiveFile.bytes(entry.key, entry.value));
  }
  return Uint8List.fromList(ZipEncoder().encodeBytes(archive));
}

void main() {
  test('a bundle whose files match its manifest verifies', () {
    final verified = verifyBundle(bundle());
    expect(verified.files.map((f) => f.path), ['story.md', 'media/a.png']);
    expect(verified.contents['media/a.png'], [1, 2, 3, 4]);
    expect(verified.scenes.single['title'], 'A');
  });

  test('a changed byte is caught', () {
    expect(() => verifyBundle(bundle(stored: {'story.md': utf8.encode('# A'), 'media/a.png': [1, 2, 3, 5]})),
        throwsA(isA<BundleCorruptException>().having((e) => e.path, 'path', 'story.md')));
  });

  test('a missing file, an unlisted scene path and another format are caught', () {
    expect(() => verifyBundle(bundle(stored: {'story.md': utf8.encode('# A\n\n![A](media/a.png)\n')})),
        throwsA(isA<BundleCorruptException>()));
    expect(() => verifyBundle(bundle(scenePicture: 'media/b.png')), throwsA(isA<BundleCorruptException>()));
    expect(() => verifyBundle(bundle(format: 'other/1')), throwsA(isA<BundleCorruptException>()));
  });
}
