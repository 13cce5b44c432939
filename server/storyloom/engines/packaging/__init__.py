"""Packaging engines: ZIP archives (zipstream), documents read (documents), picture books (books), renditions."""
