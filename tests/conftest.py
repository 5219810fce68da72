import pytest
import torch
from accelerate.state import AcceleratorState


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` are skipped on a machine without a CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Each test may build its own Accelerator (e.g. another mixed precision): forget the last one."""
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(autouse=True)
def seeded_torch():
    """Each test starts from the same torch RNG state, so its random draws do not depend on which tests ran before."""
    torch.manual_seed(0)
