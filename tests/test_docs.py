"""The user guide stays short; its links and commands work from a clean clone; no lab-log language.

- README.md is at most 250 lines (the history lives in docs/results/).
- Every relative link (and ``#anchor``) in README.md, docs/, bench/ and experiments/ Markdown resolves.
- Every ``python train.py --config …`` and ``experiments/run_table.py`` command in the docs (fenced
  blocks, shell loops expanded, and inline ``configs/….yaml key=value`` spans) names a shipped config
  and overrides that the config schema accepts.
- No tracked text file names internal step numbers, run folders that existed on one machine only, or
  commit hashes as configs.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from worldmodel.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BANNED = {
    "an internal step number": re.compile(r"\bstop[ -][0-9]+", re.IGNORECASE),
    "a one-machine run folder": re.compile(r"runs/s[0-9]+"),
    "a commit hash as a config": re.compile(r"git show [0-9a-f]{7}|\b[0-9a-f]{7,40}:configs/"),
}
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


def markdown_files() -> list[Path]:
    found = [README]
    for folder in ("docs", "bench", "experiments"):
        found += sorted((ROOT / folder).rglob("*.md"))
    return found


def tracked_text_files() -> list[tuple[Path, str]]:
    """(path, text) of each file git tracks (outside a git checkout: every file but caches, runs, data)."""
    if shutil.which("git") and (ROOT / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        paths = [ROOT / name for name in listed.decode().split("\0") if name]
    else:
        skip = {"runs", "data", "__pycache__", "build", "dist"}
        paths = [p for p in ROOT.rglob("*") if p.is_file() and not any(
            part.startswith(".") or part in skip or part.endswith(".egg-info") for part in p.relative_to(ROOT).parts)]
    texts = []
    for path in paths:
        try:
            texts.append((path, path.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary (images, arrays) or deleted in the working tree
    return texts


def github_anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]{2,}|`", "", heading.strip().lower())
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {github_anchor(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.MULTILINE)}


def test_readme_is_a_short_user_guide():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 250, f"README.md has {lines} lines; move details to docs/"


def test_github_anchor_follows_github():
    assert github_anchor("The dataset folder (the contract)") == "the-dataset-folder-the-contract"
    heading = "Sampled futures: `adassl_mix_rollouts.yaml` (3 seeds)"
    assert github_anchor(heading) == "sampled-futures-adassl_mix_rolloutsyaml-3-seeds"


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path):
    broken = []
    for target in LINK.findall(FENCE.sub("", doc.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (doc.parent / file_part).resolve() if file_part else doc
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif not dest.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading with anchor #{anchor}")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def expand_loops(line: str, loops: dict[str, list[str]]) -> list[str]:
    """``line`` once per value of each shell loop variable (``for VAR in a b c; do``) that it uses."""
    lines = [line]
    for var, values in loops.items():
        if f"${var}" in line:
            lines = [l.replace(f"${var}", value) for l in lines for value in values]
    return lines


def documented_commands() -> list[tuple[str, str]]:
    """(file, command) for each concrete train.py / run_table.py command in the docs.

    Fenced blocks (continuations joined, shell loops expanded) and inline code spans that name a
    config with overrides (``configs/F/m.yaml key=value ...``, how the results pages name earlier
    configs). Templates (CONFIG, <config>, …) are left out.
    """
    found = []
    for doc in markdown_files():
        text = doc.read_text(encoding="utf-8")
        name = doc.relative_to(ROOT).as_posix()
        for block in FENCE.findall(text):
            loops: dict[str, list[str]] = {}
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split("#")[0]
                loops |= {var: values.split() for var, values in re.findall(r"for (\w+) in ([^;]+); do", line)}
                for part in re.split(r"&&|;", line):
                    part = re.sub(r"^(do|then)\s+", "", part.strip())
                    if re.match(r"python (train\.py|experiments/run_table\.py) ", part):
                        found += [(name, command) for command in expand_loops(part, loops)]
        for span in re.findall(r"`(configs/[\w/]+\.yaml [^`]*=[^`]*)`", FENCE.sub("", text)):
            found.append((name, f"python train.py --config {span}"))
    return [(doc, command) for doc, command in found
            if not any("$" in w or "<" in w or "…" in w or w.isupper() for w in shlex.split(command))]


def config_and_overrides(command: str) -> list[tuple[str, list[str]]]:
    """The (config, overrides) pairs a documented command would load."""
    words = shlex.split(command)
    overrides = [w for w in words if "=" in w and not w.startswith("-")]
    if words[1] == "train.py":
        return [(words[words.index("--config") + 1], overrides)]
    family = next(w for w in words[2:] if not w.startswith("-") and "=" not in w)
    methods = []
    if "--methods" in words:
        for w in words[words.index("--methods") + 1:]:
            if w.startswith("-") or "=" in w:
                break
            methods.append(w)
    configs = [f"configs/{family}/{m}.yaml" for m in methods] or sorted(
        p.relative_to(ROOT).as_posix() for p in (ROOT / "configs" / family).glob("*.yaml"))
    return [(c, overrides) for c in configs]


def test_the_docs_show_training_commands():
    commands = documented_commands()
    files = {doc for doc, _ in commands}
    assert {"README.md", "docs/results/numerical.md", "docs/results/moving_digits.md",
            "docs/results/camera_pan.md"} <= files
    looped = "python train.py --config configs/image_pairs/adassl_s.yaml train.seed=2"  # from a shell loop
    assert ("docs/results/image_pairs.md", looped) in commands


def test_a_documented_command_with_an_unknown_key_fails_to_load():
    [(config, overrides)] = config_and_overrides(
        "python train.py --config configs/numerical/adassl_v.yaml model.latent.betta=1")
    with pytest.raises(ConfigError, match="model.latent.betta"):
        load_config(ROOT / config, overrides)


def test_the_banned_patterns_catch_the_lab_log():
    examples = {"an internal step number": "measured at st" + "op 17",  # split, or this file would match
                "a one-machine run folder": "runs/" + "s16/cps",
                "a commit hash as a config": "git sh" + "ow 399c7ae" + ":configs/numerical/adassl_v.yaml"}
    for what, example in examples.items():
        assert BANNED[what].search(example), what
    assert not any(p.search("python train.py --stop-at 300 --run-dir runs/seed0") for p in BANNED.values())


@pytest.mark.parametrize("doc", sorted({doc for doc, _ in documented_commands()}))
def test_documented_training_commands_load(doc: str):
    loads = {}  # (config, overrides without the seed) → the command; seeds and run folders do not change what loads
    for name, command in documented_commands():
        if name == doc:
            for config, overrides in config_and_overrides(command):
                loads.setdefault((config, tuple(o for o in overrides if not o.startswith("train.seed="))), command)
    for (config, overrides), command in loads.items():
        assert (ROOT / config).is_file(), f"{doc}: {command}: no config {config}"
        try:
            load_config(ROOT / config, list(overrides))
        except ValueError as err:
            pytest.fail(f"{doc}: {command}: {err}")


def test_no_tracked_file_speaks_the_lab_log():
    found = []
    for path, text in tracked_text_files():
        for what, pattern in BANNED.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what} ({match.group(0)!r})")
    assert not found, "\n".join(found)
