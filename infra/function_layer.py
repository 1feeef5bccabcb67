"""The functions' dependencies: the pin (requirements/functions.txt) and the layer `make dev` builds from it.

`checked_layer_dir()` is what the stack deploys: `.build/layer/`, once its distributions are the pin's, exactly.
A synthesis never ships a layer built from another pin (an edited requirements file, then `npx cdk deploy`).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_DIR = Path(__file__).resolve().parent.parent
REQUIREMENTS_FILE = PROJECT_DIR / "requirements" / "functions.txt"
LAYER_DIR = PROJECT_DIR / ".build" / "layer"  # its python/ is /opt/python on Lambda


class LayerNotBuilt(RuntimeError):
    """The layer is missing or was built from another pin; app.py prints it as one `error:` line."""


def pinned(requirements_file: Path = REQUIREMENTS_FILE) -> dict[str, str]:
    """The pin: canonical distribution name -> version. Raises ValueError for a line that is not `name==version`."""
    found: dict[str, str] = {}
    for line in requirements_file.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            if len(specifiers) != 1 or specifiers[0].operator != "==" or requirement.extras or requirement.marker:
                raise ValueError(f"{requirements_file.name}: not pinned as name==version: {line!r}")
            found[canonicalize_name(requirement.name)] = specifiers[0].version
    return found


def distributions(site: Path) -> dict[str, metadata.Distribution]:
    """The distributions installed in the folder `site`, by canonical name."""
    return {
        canonicalize_name(distribution.metadata["Name"]): distribution
        for distribution in metadata.distributions(path=[str(site)])
    }


def checked_layer_dir(layer_dir: Path | None = None, requirements_file: Path | None = None) -> Path:
    """`layer_dir` (LAYER_DIR), after checking that its python/ holds exactly the distributions `requirements_file`
    (REQUIREMENTS_FILE) pins, at the pinned versions. Raises LayerNotBuilt saying what differs and to run `make dev`."""
    layer_dir = layer_dir or LAYER_DIR
    requirements_file = requirements_file or REQUIREMENTS_FILE
    site = layer_dir / "python"
    if not site.is_dir():
        raise LayerNotBuilt(f"the functions' layer is not built ({layer_dir}): run `make dev`")
    built = {name: distribution.version for name, distribution in distributions(site).items()}
    wanted = pinned(requirements_file)
    if built != wanted:
        differing = sorted(
            f"{name} {built.get(name, 'missing')} (pinned: {wanted.get(name, 'not pinned')})"
            for name in built.keys() | wanted.keys()
            if built.get(name) != wanted.get(name)
        )
        raise LayerNotBuilt(
            f"the functions' layer ({layer_dir}) is not {requirements_file.name}'s: {', '.join(differing)}: "
            "run `make dev`"
        )
    return layer_dir
