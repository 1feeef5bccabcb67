"""A local Lambda sandbox runs a function as Lambda does: on its runtime's Python, with only its code package, its
layers (in order, before the runtime's SDK) and the standard library on the path; nothing of the dev venv."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path

from infra.function_layer import pinned
from local_runtime.functions.lambda_runtime import FunctionSpec, LambdaRuntime, Package

REPO_ROOT = Path(__file__).resolve().parents[2]

HANDLER = """
import importlib.util, sys
import boto3, marker

def lambda_handler(event, context):
    return {
        "python": list(sys.version_info[:2]),
        "path": sys.path,
        "marker": marker.WHERE,
        "boto3": boto3.__version__,
        "moto": importlib.util.find_spec("moto") is not None,
        "pydantic": importlib.util.find_spec("pydantic") is not None,
    }
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def sha256(content: bytes) -> str:
    return base64.b64encode(hashlib.sha256(content).digest()).decode()


def invoke(tmp_path: Path, layers: list[bytes], code: dict[str, str] | None = None) -> dict[str, object]:
    package = zipped(code or {"probe.py": HANDLER})
    function = FunctionSpec(
        name="Probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:Probe",
        handler="probe.lambda_handler",
        timeout_s=120.0,
        memory_mb=128,
        environment=(),
        code_sha256=sha256(package),
        runtime="python3.13",
        layer_sha256s=tuple(sha256(layer) for layer in layers),
    )
    runtime = LambdaRuntime(tmp_path, REPO_ROOT, "http://127.0.0.1:9", "us-east-1")
    try:
        invocation = runtime.invoke(function, Package(package, tuple(layers)), b"{}")
    finally:
        runtime.close()
    assert invocation.function_error is None, invocation.payload
    answer: dict[str, object] = json.loads(invocation.payload)
    return answer


def test_a_function_runs_on_its_runtime_with_its_code_its_layers_and_the_runtime_sdk_only(tmp_path: Path) -> None:
    # given two layers that both hold the module `marker`, the first also a boto3 of its own in the other layer path
    first = zipped(
        {
            "python/marker.py": "WHERE = 'first layer'",
            "python/lib/python3.13/site-packages/boto3/__init__.py": "__version__ = 'mine'",
        }
    )
    second = zipped({"python/marker.py": "WHERE = 'second layer'"})

    # when a python3.13 function is invoked with them
    answer = invoke(tmp_path, [first, second])

    # then it ran on CPython 3.13; the layers were merged as into /opt, the second's `marker` over the first's
    # ("the order in which you add the layers is the order Lambda merges them"); boto3 came from the first
    assert answer["python"] == [3, 13]
    assert (answer["marker"], answer["boto3"]) == ("second layer", "mine")
    # and nothing of the dev venv was there to import
    assert (answer["moto"], answer["pydantic"]) == (False, False)
    [opt] = (tmp_path / "functions" / "layers").iterdir()
    path = [str(entry) for entry in answer["path"]]  # type: ignore[attr-defined]
    assert path[:4] == [
        str(next((tmp_path / "functions").glob("Probe-*"))),
        str(opt / "python" / "lib" / "python3.13" / "site-packages"),
        str(opt / "python"),
        str(REPO_ROOT / ".build" / "runtime-sdk"),
    ]
    assert not any("site-packages" in entry for entry in path[4:])


def test_a_function_without_layers_imports_boto3_from_the_runtime_sdk(tmp_path: Path) -> None:
    # given a function with no layer, whose code brings `marker` itself
    answer = invoke(tmp_path, [], code={"probe.py": HANDLER, "marker.py": "WHERE = 'code'"})

    # then its boto3 is the runtime's, at the pin's version, right after its code on the path
    assert answer["boto3"] == pinned()["boto3"]
    assert answer["marker"] == "code"
    assert [str(entry) for entry in answer["path"][1:2]] == [str(REPO_ROOT / ".build" / "runtime-sdk")]  # type: ignore[index]
