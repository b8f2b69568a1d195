"""The import rules that keep the layers honest, checked on the source: a new import that
breaks one fails here, naming the file and the import."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists() and p.name != "common")


def _imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in ``path``; relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield module, [a.name for a in node.names], node.lineno


def _sources(*folders: str) -> Iterator[Path]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            # generated code, and what tools keep in hidden folders (bench/.mlflow-venv)
            if "tracklane_proto" not in parts and not any(part.startswith(".") for part in parts):
                yield path


# The image's one-shot jobs compose services (the migrations job runs the metadata and metrics
# migrations); they live beside the services, not in one, and no service imports them.
JOBS = {"migrate.py", "__main__.py"}


def test_a_service_imports_no_other_service() -> None:
    bad = []
    for path in _sources("services"):
        own = path.relative_to(ROOT).parts[1]
        if own in JOBS:
            continue
        for module, _, line in _imports(path):
            parts = module.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] in SERVICES and parts[1] != own:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "a service imports services.common and the protocol, never another service:\n" + "\n".join(bad)


def test_the_gateway_imports_only_the_shared_contract_of_the_services() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("gateway")
        for module, _, line in _imports(path)
        if module.startswith("services.") and not module.startswith("services.common")
    ]
    assert not bad, "the gateway talks to services over gRPC, never through their code:\n" + "\n".join(bad)


def test_the_client_imports_nothing_of_the_server() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("sdk")
        for module, _, line in _imports(path)
        if module.split(".")[0] in ("services", "gateway", "devstack", "nats", "chdb", "pymongo", "starlette")
    ]
    assert not bad, "the tracklane distribution must install and run alone:\n" + "\n".join(bad)


def test_no_underscore_name_is_imported_across_modules() -> None:
    """A name a second module needs becomes public; a package's own private submodules
    (``from tracklane import _capture``) are fine."""
    bad = []
    for path in _sources("services", "gateway", "sdk", "devstack", "bench"):
        for module, names, line in _imports(path):
            for name in names:
                if not name.startswith("_") or name.startswith("__"):
                    continue
                submodule = ROOT.joinpath(*(["sdk"] if module.startswith("tracklane") else []), *module.split("."))
                if (submodule / f"{name}.py").exists():
                    continue
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name} from {module}")
    assert not bad, "make the name public in a shared module instead:\n" + "\n".join(bad)


def test_routes_do_not_import_each_other() -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("gateway")
        for module, _, line in _imports(path)
        if module.startswith("gateway.routes") and path.name not in ("app.py", "__init__.py")
    ]
    assert not bad, "a lower layer never imports a route, nor a route another route:\n" + "\n".join(bad)


def test_the_server_imports_the_protocol_never_the_sdk() -> None:
    """``tracklane`` patches argparse and captures consoles when imported: server processes take
    ``tracklane_proto`` alone."""
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("services", "gateway", "devstack")
        for module, _, line in _imports(path)
        if module == "tracklane" or module.startswith("tracklane.")
    ]
    assert not bad, "\n".join(bad)
