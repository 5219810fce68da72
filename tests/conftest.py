import pytest
import torch
from accelerate.state import AcceleratorState


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Each test may build its own Accelerator (e.g. another mixed precision): forget the last one."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(autouse=True)
def seeded_torch():
    """Each test starts from the same torch RNG state, so its random draws do not depend on which tests ran before."""
    torch.manual_seed(0)
