"""A pytest plugin of the suite (tests/conftest.py loads it): reports name a test by its own id.

pytest-xdist's `--dist loadgroup` appends `@<xdist group>` to the id of each test of a group on the workers. The
FAILED lines then named ids a user cannot pass to pytest, and `pytest --lf` found no test by them and ran the whole
suite again. On the controller, each report's id loses the suffix before the terminal and the last-failed cache
read it.
"""

from __future__ import annotations

import pytest


class TestIdsWithoutGroup:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        test, _, group = report.nodeid.rpartition("@")
        if "::" in test and group and not set("/:[]") & set(group):
            report.nodeid = test


def pytest_configure(config: pytest.Config) -> None:
    # on the controller only: each worker checks that a report names the item it ran, suffix included
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(TestIdsWithoutGroup(), "test-ids-without-group")
