import 'dart:convert';
import 'dart:typed_data';

import 'package:archive/archive.dart';
import 'package:crypto/crypto.dart';

/// The bundle format this client reads (`manifest.json`'s `format`).
const bundleFormat = 'storyloom.bundle/1';

/// One file of a bundle as its manifest lists it.
class BundleFile {
  BundleFile({required this.path, required this.contentType, required this.sizeBytes, required this.sha256,
      required this.purpose, this.media = ''});

  factory BundleFile.fromJson(Map<String, dynamic> json) => BundleFile(
        path: json['path'] as String,
        contentType: json['content_type'] as String,
        sizeBytes: (json['size_bytes'] as num).toInt(),
        sha256: json['sha256'] as String,
        purpose: (json['purpose'] as String?) ?? '',
        media: (json['media'] as String?) ?? '',
      );

  final String path;
  final String contentType;
  final int sizeBytes;
  final String sha256;

  /// `markdown`, `full`, `medium`, `thumbnail` or `preview`.
  final String purpose;

  /// Its media name (`media/{id}`), to fetch it again with GetMedia; empty for `story.md`.
  final String media;
}

/// A downloaded story bundle (StoryService.GetStoryBundle) whose every file matched its manifest: the ZIP's bytes
/// (to keep as one file), the manifest, and each file's bytes by path (to cache one by one).
class StoryBundle {
  StoryBundle(this.zip, this.manifest, this.files, this.contents);

  final Uint8List zip;
  final Map<String, dynamic> manifest;
  final List<BundleFile> files;
  final Map<String, Uint8List> contents;

  /// The scenes in story order: index, title, text, mood, and the paths of their `picture` (full, medium,
  /// thumbnail) and `narration` (full, preview) by purpose.
  List<Map<String, dynamic>> get scenes => (manifest['scenes'] as List).cast<Map<String, dynamic>>();
}

/// A bundle file that is missing or whose size or SHA-256 differs from its manifest, or a malformed bundle.
class BundleCorruptException implements Exception {
  BundleCorruptException(this.path, this.message);

  final String path;
  final String message;

  @override
  String toString() => 'BundleCorruptException: $path: $message';
}

/// Checks a bundle the way the Python client's `verify_bundle` does (the contract is in the server's README,
/// "Bundles"): `manifest.json` of [bundleFormat]; every file it lists present, of its size and SHA-256; every path
/// a scene names listed. Throws [BundleCorruptException].
StoryBundle verifyBundle(Uint8List zip) {
  final Archive archive;
  try {
    archive = ZipDecoder().decodeBytes(zip);
  } on Object catch (error) {
    throw BundleCorruptException('', 'not a ZIP archive ($error)');
  }
  final manifestFile = archive.findFile('manifest.json');
  if (manifestFile == null) throw BundleCorruptException('manifest.json', 'missing');
  final manifest = jsonDecode(utf8.decode(manifestFile.readBytes()!)) as Map<String, dynamic>;
  if (manifest['format'] != bundleFormat) {
    throw BundleCorruptException('manifest.json', 'unknown format ${manifest['format']}');
  }
  final files = [for (final entry in manifest['files'] as List) BundleFile.fromJson(entry as Map<String, dynamic>)];
  final contents = <String, Uint8List>{};
  for (final file in files) {
    final entry = archive.findFile(file.path);
    final bytes = entry?.readBytes();
    if (bytes == null) throw BundleCorruptException(file.path, 'missing from the archive');
    final digest = sha256.convert(bytes).toString();
    if (bytes.length != file.sizeBytes || digest != file.sha256) {
      throw BundleCorruptException(file.path, 'sha256 $digest (${bytes.length} bytes), expected ${file.sha256}');
    }
    contents[file.path] = bytes;
  }
  final listed = {for (final file in files) file.path};
  for (final scene in (manifest['scenes'] as List).cast<Map<String, dynamic>>()) {
    for (final kind in const ['picture', 'narration']) {
      final paths = (scene[kind] as Map<String, dynamic>?) ?? const {};
      for (final path in paths.values) {
        if (!listed.contains(path)) throw BundleCorruptException(path as String, 'named by a scene, not listed');
      }
    }
  }
  return StoryBundle(zip, manifest, files, contents);
}
