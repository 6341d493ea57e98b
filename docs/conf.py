"""Sphinx configuration of the toolkit's documentation site (built with ``python docs/build.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import mobility  # noqa: E402

project = "mobility"
author = "the mobility authors"
copyright = "the mobility authors"
release = getattr(mobility, "__version__", "")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "mobility_docs",
]

# numpydoc-style docstrings, rendered by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_class_signature = "separated"

# notebooks are executed before the build (docs/build.py), never by Sphinx
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "build.py"]
html_theme = "furo"
html_title = "mobility"
html_static_path: list[str] = []
