"""The README's configuration tables list exactly the environment variables the code reads.

The code is searched as text: every STORYLOOM_* name anywhere in it, the names config.py reads with
`_env("NAME")` (STORYLOOM_NAME), and other names read through os.environ / os.getenv / typer's envvar= or Dart's
Platform.environment. So a variable added without a row in the README fails here, and so does a row left behind
when the code stops reading its variable. Test-only settings (tests/) are documented where the tests are.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from tests.support.paths import ROOT

# Where the code is, and what in there is not ours to document (generated code, installed packages, builds).
SOURCES = ["server", "tools", "gateway", "clients", "bench", "Makefile"]
SKIPPED_PARTS = {"node_modules", "dist", "gen", "generated", "__pycache__", ".dart_tool", "build"}
CODE_SUFFIXES = {".py", ".sh", ".ts", ".mjs", ".js", ".dart", ".yaml", ".tmpl", ""}

# Read by the code but not settings for people.
NOT_SETTINGS = {
    "STORYLOOM_PYTHON": "the Makefile exports it for its own code-generation shims (tools/protoc)",
}

PREFIXED = re.compile(r"\bSTORYLOOM_[A-Z0-9_]*[A-Z0-9]\b")
SETTINGS_ENV = re.compile(r"""\b_env\(\s*["']([A-Z][A-Z0-9_]*)["']""")  # config.py: _env("X") is STORYLOOM_X
READS = [
    re.compile(r"""\benviron\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\benviron\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\](?!\s*=[^=])"""),  # a read, not an assignment
    re.compile(r"""\bgetenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\benvvar=["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""\bPlatform\.environment\[\s*["']([A-Z][A-Z0-9_]*)["']"""),
]


def variables_read(text: str) -> set[str]:
    found = set(PREFIXED.findall(text))
    found |= {f"STORYLOOM_{name}" for name in SETTINGS_ENV.findall(text)}
    for pattern in READS:
        found |= set(pattern.findall(text))
    return found


def code_files() -> list[Path]:
    files = []
    for source in SOURCES:
        path = ROOT / source
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for candidate in candidates:
            parts = set(candidate.relative_to(ROOT).parts)
            if parts & SKIPPED_PARTS or any(p.endswith(".egg-info") for p in parts):
                continue
            if candidate.suffix in CODE_SUFFIXES:
                files.append(candidate)
    return files


@functools.cache  # the tree is read once for the three tests (it takes seconds on a busy machine)
def read_by_code() -> dict[str, list[str]]:
    """Each variable the code reads, with the files that read it."""
    where: dict[str, list[str]] = {}
    for path in code_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue  # a binary (the descriptor set)
        for name in variables_read(text):
            where.setdefault(name, []).append(str(path.relative_to(ROOT)))
    for name in NOT_SETTINGS:
        where.pop(name, None)
    return where


def documented() -> set[str]:
    """The variables in the first column of the tables in the README's Configuration section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Configuration\n"):]
    section = section[: section.find("\n## ", 1)]
    names = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            names |= {n for n in re.findall(r"`([^`]+)`", first_cell) if re.fullmatch(r"[A-Z][A-Z0-9_]*", n)}
    return names


def test_the_search_finds_each_way_the_code_reads_a_variable():
    sample = """
        os.environ.get("GEMINI_API_KEY", "")      value = os.environ["SOME_PATH"]
        os.getenv('OTHER_SETTING')                 "address": _env("ADDRESS", cls.address),
        ADDR="${STORYLOOM_ADDR:-127.0.0.1:50051}"  typer.Option("--x", envvar="CLI_SETTING")
        Platform.environment['DART_SETTING']      # docs may say STORYLOOM_* or f"STORYLOOM_{name}"
        os.environ["WRITTEN"] = "1"                os.environ.setdefault("HF_HUB_OFFLINE", "1")
    """
    assert variables_read(sample) == {"GEMINI_API_KEY", "SOME_PATH", "OTHER_SETTING", "STORYLOOM_ADDRESS",
                                      "STORYLOOM_ADDR", "CLI_SETTING", "DART_SETTING"}
    # And it looks where the code is: settings of the server, of `make run` and of the clients are all found.
    assert {"STORYLOOM_TASK_CONCURRENCY", "GEMINI_API_KEY", "STORYLOOM_WEB_PORT", "STORYLOOM_ENVOY_ADMIN_PORT",
            "STORYLOOM_ADDR", "STORYLOOM_API_KEY_FILE"} <= set(read_by_code())


def test_every_variable_the_code_reads_has_a_row_in_the_readme():
    missing = {name: files for name, files in read_by_code().items() if name not in documented()}
    assert missing == {}, "add these to the README's Configuration tables (read in the files named):\n" + "\n".join(
        f"  {name}: {', '.join(files)}" for name, files in sorted(missing.items()))


def test_every_variable_in_the_readme_is_still_read_by_the_code():
    stale = documented() - set(read_by_code())
    assert stale == set(), f"the README documents variables no code reads: {sorted(stale)}"
