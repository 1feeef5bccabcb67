"""What deploys is what is tested: the functions' dependencies are requirements/functions.txt's, everywhere.

The pin, the layer `make dev` builds from it (.build/layer/), the layer the synthesized stack deploys, and the dev
venv the in-process tests import from all hold the same distributions at the same versions; the pin is a closure;
and every handler of the template imports on the runtime's interpreter with only src/ and the layer on its path.
"""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app import build_app
from infra import function_layer
from infra.function_layer import LAYER_DIR, PROJECT_DIR, LayerNotBuilt, checked_layer_dir, distributions, pinned
from infra.lambda_function import ARCHITECTURE, RUNTIME, SRC_DIR
from local_runtime.functions.interpreters import interpreter_for
from tests.infra.conftest import Synthesized
from tests.infra.template_queries import logical_id

pytestmark = [pytest.mark.cdk, pytest.mark.xdist_group("cdk")]

# What `platform` and `python_version` are on the functions' runtime (python3.13 on Amazon Linux, x86_64).
RUNTIME_MARKERS = {
    **default_environment(),
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}
EXTRAS = {"aws-lambda-powertools": {"tracer"}}  # the extras the functions use (consumer.traced: Tracer)


def test_the_layer_holds_exactly_the_pinned_distributions() -> None:
    layer = distributions(LAYER_DIR / "python")

    assert {name: distribution.version for name, distribution in layer.items()} == pinned()


def test_the_pin_holds_every_dependency_of_what_it_pins_at_an_accepted_version() -> None:
    versions = pinned()
    missing = []
    for name, distribution in distributions(LAYER_DIR / "python").items():
        for line in distribution.requires or []:
            requirement = Requirement(line)
            extras = EXTRAS.get(name, set()) | {""}
            if requirement.marker is not None and not any(
                requirement.marker.evaluate({**RUNTIME_MARKERS, "extra": extra}) for extra in extras
            ):
                continue
            wanted = canonicalize_name(requirement.name)
            if wanted not in versions or not requirement.specifier.contains(versions[wanted], prereleases=True):
                missing.append(f"{name} needs {line}")

    assert missing == []


def test_the_dev_venv_imports_the_pinned_versions() -> None:
    installed = {name: metadata.version(name) for name in pinned()}

    assert installed == pinned()


def test_compiled_modules_of_the_layer_are_for_the_runtime_and_architecture() -> None:
    version = RUNTIME.name.removeprefix("python").replace(".", "")
    tags = {re.sub(r"^[^.]+\.", "", path.name) for path in (LAYER_DIR / "python").rglob("*.so")}

    assert tags == {f"cpython-{version}-{ARCHITECTURE.name}-linux-gnu.so"}


def test_every_module_of_the_layer_is_compiled_for_the_runtime_as_lambda_reads_it() -> None:
    # /opt is read-only on Lambda: without its bytecode, every cold start compiles what it imports again
    tag = f"cpython-{RUNTIME.name.removeprefix('python').replace('.', '')}"
    site = LAYER_DIR / "python"
    uncompiled, checked = [], []
    for source in site.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not compiled.is_file():
            uncompiled.append(str(source.relative_to(site)))
        elif int.from_bytes(compiled.read_bytes()[4:8], "little") != 1:  # PEP 552: hash-based, unchecked
            checked.append(str(compiled.relative_to(site)))

    assert (uncompiled, checked) == ([], [])


def test_every_function_runs_the_one_layer_the_stack_builds_from_the_layer_folder(synthesized: Synthesized) -> None:
    resources = synthesized.resources
    layer = logical_id(resources, "AWS::Lambda::LayerVersion", "FunctionsLayer")
    functions = [value["Properties"] for value in resources.values() if value["Type"] == "AWS::Lambda::Function"]
    layer_properties = resources[layer]["Properties"]
    staged = staged_asset(synthesized, layer_properties["Content"]["S3Key"])

    assert {(function["Runtime"], json.dumps(function["Layers"])) for function in functions} == {
        (RUNTIME.name, json.dumps([{"Ref": layer}]))
    }
    assert layer_properties["CompatibleRuntimes"] == [RUNTIME.name]
    assert layer_properties["CompatibleArchitectures"] == [ARCHITECTURE.name]
    assert files_of(staged) == files_of(LAYER_DIR)


def staged_asset(synthesized: Synthesized, s3_key: str) -> Path:
    """The folder the cloud assembly publishes as the asset `s3_key` (`<hash>.zip`)."""
    outdir = Path(synthesized.outdir)
    [manifest] = outdir.glob("*.assets.json")
    asset = json.loads(manifest.read_text())["files"][s3_key.removesuffix(".zip")]
    return outdir / asset["source"]["path"]


def files_of(folder: Path) -> dict[str, int]:
    """Each file's path under `folder` and its size."""
    return {str(path.relative_to(folder)): path.stat().st_size for path in folder.rglob("*") if path.is_file()}


def test_every_handler_imports_on_the_runtime_with_only_its_code_and_the_layer(synthesized: Synthesized) -> None:
    functions = [
        value["Properties"] for value in synthesized.resources.values() if value["Type"] == "AWS::Lambda::Function"
    ]
    failed = {}
    for function in functions:
        imported = import_on_the_runtime(function["Handler"], environment_of(function))
        if imported.returncode != 0:
            failed[function["Handler"]] = imported.stderr.strip().splitlines()[-1:]

    assert len(functions) >= 9
    assert failed == {}


def environment_of(function: dict[str, Any]) -> dict[str, str]:
    """The function's environment as the template sets it; a value naming a resource becomes a placeholder."""
    variables = function.get("Environment", {}).get("Variables", {})
    return {name: value if isinstance(value, str) else "placeholder" for name, value in variables.items()}


def import_on_the_runtime(handler: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import `handler` (module.attribute) as Lambda's Init phase does: the runtime's interpreter, the code and the
    layer's python/ on the path, no site-packages, no bytecode written into the layer."""
    module, _, attribute = handler.rpartition(".")
    script = (
        "import importlib, sys\n"
        f"sys.path[:0] = [{str(SRC_DIR)!r}, {str(LAYER_DIR / 'python')!r}]\n"
        f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
        "assert callable(handler)\n"
        "assert not any('site-packages' in path for path in sys.path), sys.path\n"
    )
    env = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", **environment}
    command = [interpreter_for(RUNTIME.name), "-I", "-S", "-B", "-c", script]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_synthesis_without_the_layer_built_says_to_run_make_dev(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a checkout whose layer folder is empty
    monkeypatch.setattr(function_layer, "LAYER_DIR", tmp_path / "layer")

    # when the stack is built, then it stops with what to do
    with pytest.raises(LayerNotBuilt) as raised:
        build_app(cdk.App(outdir=str(tmp_path / "cdk.out")))

    assert str(raised.value) == f"the functions' layer is not built ({tmp_path / 'layer'}): run `make dev`"


def test_a_layer_built_from_another_pin_is_refused_naming_what_differs(tmp_path: Path) -> None:
    # given a pin that moved pydantic on, dropped six and added a distribution, and the layer built before
    lines = [line for line in function_layer.REQUIREMENTS_FILE.read_text().splitlines() if not line.startswith("six==")]
    edited = [line.replace("pydantic==2.14.4", "pydantic==2.15.0") for line in lines] + ["attrs==25.1.0"]
    requirements = tmp_path / "functions.txt"
    requirements.write_text("\n".join(edited) + "\n")

    with pytest.raises(LayerNotBuilt) as raised:
        checked_layer_dir(LAYER_DIR, requirements)

    assert str(raised.value) == (
        f"the functions' layer ({LAYER_DIR}) is not functions.txt's: attrs missing (pinned: 25.1.0), "
        "pydantic 2.14.4 (pinned: 2.15.0), six 1.17.0 (pinned: not pinned): run `make dev`"
    )


@pytest.mark.parametrize(
    "line", ["pydantic>=2.14", "aws-lambda-powertools[tracer]==3.37.0", "six==1.17.0; python_version<'3'"]
)
def test_a_pin_line_that_is_not_name_equals_version_is_refused(tmp_path: Path, line: str) -> None:
    requirements = tmp_path / "functions.txt"
    requirements.write_text(f"# a comment\n{line}\n")

    with pytest.raises(ValueError) as raised:
        pinned(requirements)

    assert str(raised.value) == f"functions.txt: not pinned as name==version: {line!r}"


def test_the_layer_is_the_same_bytes_from_any_checkout() -> None:
    # pip writes the installing venv's path into a script it installs, and that script's hash into RECORD
    site = LAYER_DIR / "python"
    outside = [
        f"{record.parent.name}: {line.split(',')[0]}"
        for record in site.glob("*.dist-info/RECORD")
        for line in record.read_text().splitlines()
        if line.startswith("../")
    ]
    holding_the_checkout = [
        str(path.relative_to(site))
        for path in site.rglob("*")
        if path.is_file() and str(PROJECT_DIR).encode() in path.read_bytes()
    ]

    assert (outside, holding_the_checkout) == ([], [])
