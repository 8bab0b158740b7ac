"""Import a .py file from a folder that is not a package (the Space, examples/scripts)."""

import importlib.util
import sys
from pathlib import Path


def load_file_module(folder: Path, name: str):
    """Import `folder/<name>.py` as module `name` (once: later calls return the same module)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(folder) / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
