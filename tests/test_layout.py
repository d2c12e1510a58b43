"""The repository's shape: every tests folder is collected, and no layer imports one above it."""

import ast
import configparser
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".venv", ".git", "node_modules", "var"}  # and every dot-folder

APPS = ["access", "api", "clinic", "mail", "ops", "portal", "portico", "sms", "staff"]

# (what the contract says, the source it covers, what that source must not import, files exempt from it).
# A source is a file or a folder (a folder covers every .py below it, except tests and migrations).
# A forbidden module also forbids its submodules; "*.views" is any of our apps' views modules
# (clinic.views, clinic.views.chart, portal.account_views).
CONTRACTS = [
    ("clinic's core imports no other app",
     ["clinic/models.py", "clinic/validation.py", "clinic/selectors.py"],
     ["access", "portal", "api", "mail", "ops"], []),
    ("mail imports no app but portico",
     ["mail"], [app for app in APPS if app not in ("mail", "portico")], []),
    ("sms imports no app but portico",
     ["sms"], [app for app in APPS if app not in ("sms", "portico")], []),
    ("access imports no web layer",
     ["access"], ["api", "portal", "ops", "*.views"], []),
    ("portal imports neither api nor clinic.views",
     ["portal"], ["api", "clinic.views"], []),
    ("api imports neither portal nor clinic.views",
     ["api"], ["portal", "clinic.views"], []),
    ("clinic.views imports neither api nor portal",
     ["clinic/views"], ["api", "portal"], []),
    ("portico imports no app (its urls wire them together)",
     ["portico"], [app for app in APPS if app != "portico"], ["portico/urls.py"]),
]


def skipped(name: str) -> bool:
    return name in SKIPPED_DIRS or name.startswith(".")


def test_every_tests_folder_is_collected():
    ini = configparser.ConfigParser()
    ini.read(ROOT / "pytest.ini")
    testpaths = [ROOT / path for path in ini["pytest"]["testpaths"].split()]
    missed = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [name for name in dirs if not skipped(name)]
        here = Path(folder)
        if here.name == "tests" and any(Path(f).match("test_*.py") for f in files):
            if not any(here.is_relative_to(path) for path in testpaths):
                missed.append(str(here.relative_to(ROOT)))
    assert not missed, f"pytest.ini's testpaths leave out {missed}"


def source_files(source: str) -> list[Path]:
    path = ROOT / source
    assert path.exists(), f"{source} is gone: update CONTRACTS"
    if path.is_file():
        return [path]
    return sorted(f for f in path.rglob("*.py") if not {"tests", "migrations"} & set(f.relative_to(ROOT).parts))


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in the file, even inside functions; relative modules made absolute."""
    package = list(path.relative_to(ROOT).parent.parts)  # what `from . import x` is relative to
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append((node.lineno, module, [alias.name for alias in node.names if alias.name != "*"]))
    return sorted(found, key=lambda item: item[0])


def is_forbidden(name: str, rules: list[str]) -> bool:
    parts = name.split(".")
    for rule in rules:
        if rule == "*.views":
            if parts[0] in APPS and any(part == "views" or part.endswith("_views") for part in parts[1:]):
                return True
        elif name == rule or name.startswith(rule + "."):
            return True
    return False


def forbidden(module: str, names: list[str], rules: list[str]) -> list[str]:
    """The forbidden module, or else the forbidden submodules `from module import name` may bring in."""
    if is_forbidden(module, rules):
        return [module]
    return [f"{module}.{name}" for name in names if is_forbidden(f"{module}.{name}", rules)]


@pytest.mark.parametrize(("contract", "sources", "rules", "exempt"), CONTRACTS, ids=[c[0] for c in CONTRACTS])
def test_no_layer_imports_upward(contract, sources, rules, exempt):
    broken = [f"{path.relative_to(ROOT)}:{line} -> {bad}"
              for source in sources for path in source_files(source)
              if str(path.relative_to(ROOT)) not in exempt
              for line, module, names in imports(path) for bad in forbidden(module, names, rules)]
    assert not broken, f"{contract}, but:\n" + "\n".join(broken)


# Only access actions write history (and history.py itself); pages, selectors and receivers call an action.
HISTORY_WRITERS = {"record", "append", "new_event"}
MAY_WRITE_HISTORY = ("access/actions/", "access/history.py")


def test_only_access_actions_write_history():
    broken = [f"{path.relative_to(ROOT)}:{line} imports {', '.join(sorted(HISTORY_WRITERS & set(names))) or module}"
              for app in APPS if (ROOT / app).is_dir() for path in source_files(app)
              if not str(path.relative_to(ROOT)).startswith(MAY_WRITE_HISTORY)
              for line, module, names in imports(path)
              if module == "access.history" and (HISTORY_WRITERS & set(names) or not names)
              or module == "access" and "history" in names]
    broken += [f"{path.relative_to(ROOT)}:{line} writes AccessEvent rows itself"
               for app in APPS if (ROOT / app).is_dir() for path in source_files(app)
               if not str(path.relative_to(ROOT)).startswith(MAY_WRITE_HISTORY)
               for line in calls(path, receiver="AccessEvent", methods=WRITES)]
    assert not broken, "History is written only by access actions, but:\n" + "\n".join(broken)


# Selectors read; a write belongs in an action (architecture: "selectors never write").
WRITES = {"save", "create", "bulk_create", "update", "bulk_update", "delete", "get_or_create",
          "update_or_create", "select_for_update"}


def calls(path: Path, receiver: str | None = None, methods: set[str] = WRITES) -> list[int]:
    """Lines calling `<anything>.<method>(...)`, or only `<receiver>.<...>.<method>` when a receiver is named."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
            if receiver is None or receiver in ast.unparse(node.func.value).split("."):
                found.append(node.lineno)
    return found


def test_selectors_never_write():
    selectors = sorted(path for app in APPS if (ROOT / app).is_dir() for path in source_files(app)
                       if "selectors" in path.stem)
    assert selectors, "no selectors found: update the test"
    broken = [f"{path.relative_to(ROOT)}:{line}" for path in selectors for line in calls(path)]
    assert not broken, "Selectors only read, but these lines write:\n" + "\n".join(broken)
