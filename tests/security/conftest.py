"""One running stack for the security suites: five services and the data seeded in them."""

from collections.abc import Iterator

import pytest

from tests.security import stack as stack_module
from tests.security.stack import Seed, Stack


@pytest.fixture(scope="package")
def security_stack() -> Iterator[Stack]:
    """The five services, started once for every security test, stopped and dropped after."""
    stack, stop = stack_module.start()
    try:
        stack.seed = stack_module.seed(stack)
        yield stack
    finally:
        stop()


@pytest.fixture(scope="package")
def seeded(security_stack: Stack) -> Seed:
    """What the stack was seeded with."""
    assert security_stack.seed is not None
    return security_stack.seed
