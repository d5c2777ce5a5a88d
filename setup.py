"""The report notebooks travel with the package: a wheel holds them as ``engage_models/notebooks``.

They live in the checkout's ``notebooks/`` (cookiecutter-data-science's layout, where the team edits them);
setuptools ships package data only from inside the package, so the build copies them in. An editable install
reads them from the checkout (``engage_models.config.NOTEBOOKS_DIR``). Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithNotebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "engage_models" / "notebooks"
        shutil.rmtree(target, ignore_errors=True)  # a reused build folder keeps no notebook renamed since
        target.mkdir(parents=True)
        for notebook in sorted((HERE / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            shutil.copyfile(notebook, target / notebook.name)


setup(cmdclass={"build_py": BuildWithNotebooks})
