"""Serve MathJax with the site, so that the book's math renders with no network.

Sphinx loads MathJax from a CDN by default: offline, a reader then sees raw ``\\(z\\)`` and
``\\[ ... \\]``. This extension points ``mathjax_path`` at a copy inside the site instead and,
after each HTML build, copies there the files that copy needs. They come from the PyPI package
``django-static-mathjax`` (a dev dependency of this project): MathJax 3.2.2, the release that
Sphinx's default address serves, as plain files (the package needs no Django to install).

Of the package's 35 MB only about 2 MB are copied: the ``tex-mml-chtml`` component that Sphinx
uses by default (TeX and MathML input, CommonHTML output, the ams environments), its woff fonts,
and the TeX extensions that MathJax's ``autoload`` fetches the first time a page uses one of
their macros (``\\boldsymbol``, ``\\cancel``, ...). The accessibility explorer that a reader can
switch on in MathJax's menu is not copied.
"""

import shutil
from pathlib import Path

import mathjax

ES5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
COMPONENT = "tex-mml-chtml.js"
COPIED = [COMPONENT, "output/chtml/fonts/woff-v2", "input/tex/extensions"]
TARGET = "mathjax"  # under the site's _static/, where a relative mathjax_path points


def use_the_local_copy(app, config):
    config.mathjax_path = f"{TARGET}/{COMPONENT}"


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir) / "_static" / TARGET
    for name in COPIED:
        if (ES5 / name).is_dir():
            shutil.copytree(ES5 / name, out / name, dirs_exist_ok=True)
        else:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ES5 / name, out / name)
    shutil.copy2(ES5.parent / "LICENSE", out / "LICENSE")  # MathJax's Apache-2.0 licence


def setup(app):
    app.connect("config-inited", use_the_local_copy)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
