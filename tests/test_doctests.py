"""The examples in the package's docstrings run and show what they say (stdlib doctest, module by
module; examples marked ``+SKIP`` need data or time and are skipped)."""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil
import warnings

import pytest

import neuro_igc

MODULES = sorted(m.name for m in pkgutil.walk_packages(neuro_igc.__path__, "neuro_igc.")
                 if not m.name.endswith("__main__"))


def test_modules_are_found():
    assert "neuro_igc.attribution._igc" in MODULES and "neuro_igc.benchmark._scoring" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an example's accuracy warning is not its output
        for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
            if test.lineno is None or test.filename != module.__file__:
                continue  # names re-exported from another module are tested there
            runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
