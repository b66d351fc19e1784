"""Sphinx configuration of the skreweight documentation."""

import os
import sys
from pathlib import Path

import skreweight

sys.path.insert(0, os.path.abspath("sphinxext"))

project = "skreweight"
author = "The skreweight developers"
copyright = "2026, The skreweight developers"
version = release = skreweight.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**/README.txt", "sg_execution_times.rst"]
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_theme_options = {"navigation_depth": 2, "show_toc_level": 2}
html_title = f"skreweight {version}"

# One gallery section per module that has examples.
_examples = Path(__file__).parent.parent / "examples"
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "doc_module": ("skreweight",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skreweight": None},
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
}
