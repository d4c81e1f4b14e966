"""Layout rules: tests mirror the package (posedriven/<path>/<m>.py is tested
in tests/<path>/test_<m>.py, STYLE.md practice 1), and no module under
posedriven/ exceeds MAX_MODULE_LINES lines (issue 23)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO_ROOT

# One module per concept: a module past this has grown a second concept.
MAX_MODULE_LINES = 500


def missing_test_files(repo_root: Path) -> list[str]:
  """The modules under ``posedriven/`` without their mirrored test file."""
  package = repo_root / "posedriven"
  missing = []
  for module in sorted(package.rglob("*.py")):
    if module.name == "__init__.py":
      continue
    relative = module.relative_to(package)
    test_file = (repo_root / "tests" / relative.parent /
                 f"test_{relative.name}")
    if not test_file.is_file():
      missing.append(f"posedriven/{relative} -> "
                     f"{test_file.relative_to(repo_root)}")
  return missing


def test_every_module_has_its_mirrored_test_file():
  assert len(list((REPO_ROOT / "posedriven").rglob("*.py"))) > 40
  missing = missing_test_files(REPO_ROOT)
  assert not missing, "modules without a mirrored test file:\n" + "\n".join(
      missing)


def long_modules(repo_root: Path,
                 limit: int = MAX_MODULE_LINES) -> list[str]:
  """``"posedriven/<path>: <n> lines"`` for each module over ``limit``."""
  package = repo_root / "posedriven"
  long = []
  for module in sorted(package.rglob("*.py")):
    with module.open("rb") as f:
      count = sum(1 for _ in f)
    if count > limit:
      long.append(f"posedriven/{module.relative_to(package)}: {count} lines")
  return long


def test_long_modules_are_listed_with_their_counts(tmp_path):
  package = tmp_path / "posedriven" / "sub"
  package.mkdir(parents=True)
  (package / "short.py").write_text("x = 1\n" * 3)
  (package / "long.py").write_text("x = 1\n" * 4)
  assert long_modules(tmp_path, limit=3) == ["posedriven/sub/long.py: 4 lines"]


def test_no_module_exceeds_the_line_limit():
  assert len(list((REPO_ROOT / "posedriven").rglob("*.py"))) > 40
  long = long_modules(REPO_ROOT)
  assert not long, (f"modules over {MAX_MODULE_LINES} lines (split them by"
                    " concept):\n" + "\n".join(long))
