#!/usr/bin/env python3
"""An independent computation of Azure ML's code hash (hash version 202208) for
tests/unit/test_azureml_code_hash.cc, because azure-ai-ml is not installed here. It
follows azure-ai-ml's `get_content_hash` / `_get_file_list_content_hash`
(azure/ai/ml/_utils/_asset_utils.py): os.walk with followlinks=True, the files the root's
.amlignore (else .gitignore) keeps, sorted by their lowercased relative path; sha256 of the
count, then '#<relpath>#<size>' per file, then every file's bytes. Its ignore matching
knows only what the test's ignore files use: one pattern per line, '#' comments, a
trailing '/' for folders, fnmatch on each path component or on the whole path.

usage: code_hash_reference.py FOLDER  -> prints the hex digest
"""
import fnmatch
import hashlib
import os
import sys


def load_patterns(root):
    for name in (".amlignore", ".gitignore"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            with open(path) as f:
                return [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return []


def excluded(relative, patterns):
    parts = relative.split("/")
    for pattern in patterns:
        folder = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if "/" in pattern:
            if fnmatch.fnmatchcase(relative, pattern.lstrip("/")):
                return True
            continue
        candidates = parts[:-1] if folder else parts
        if any(fnmatch.fnmatchcase(part, pattern) for part in candidates):
            return True
    return False


def main(root):
    patterns = load_patterns(root)
    files = []
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if not excluded(relative, patterns):
                files.append((path, relative))
    files.sort(key=lambda item: item[1].lower())
    digest = hashlib.sha256()
    digest.update(str(len(files)).encode())
    for path, relative in files:
        digest.update(("#" + relative + "#").encode())
        digest.update(str(os.path.getsize(path)).encode())
    for path, _ in files:
        with open(path, "rb") as f:
            digest.update(f.read())
    print(digest.hexdigest())


if __name__ == "__main__":
    main(sys.argv[1])
