"""Print the versions of skreweight, Python and the packages it uses."""

import importlib.metadata
import platform
import sys

_CORE = [
    "numpy",
    "scipy",
    "scikit-learn",
    "imbalanced-learn",
    "sklearn-compat",
    "cvxpy",
    "joblib",
    "tqdm",
]
_OPTIONAL = ["pandas", "torch", "dask", "distributed", "ray", "matplotlib"]


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def show_versions():
    """Print useful debugging information: system and package versions.

    Paste its output into bug reports. Optional packages that are not
    installed are shown as ``None``.

    See Also
    --------
    sklearn.show_versions : The same report for scikit-learn.

    Examples
    --------
    >>> from skreweight import show_versions
    >>> show_versions()  # doctest: +SKIP
    """
    from skreweight._version import __version__

    print("\nSystem:")
    print(f"    python: {sys.version.replace(chr(10), ' ')}")
    print(f"executable: {sys.executable}")
    print(f"   machine: {platform.platform()}")
    print(f"\nskreweight: {__version__}")
    for title, packages in (("Dependencies", _CORE), ("Optional", _OPTIONAL)):
        print(f"\n{title}:")
        for package in packages:
            print(f"{package:>16}: {_version(package)}")
