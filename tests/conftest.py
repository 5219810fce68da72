import pytest
from accelerate.state import AcceleratorState


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Each test may build its own Accelerator (e.g. another mixed precision): forget the last one."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
