"""Where torch models run: CUDA with fp16 when a GPU is there, else CPU with tuned threads.

`device_select` takes the detection as arguments so tests can say "there is a GPU" without one."""

import logging
import os
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Device:
    name: str  # "cuda" or "cpu"
    half: bool  # run the model in fp16
    threads: int  # intra-op CPU threads (0 on CUDA: torch decides)


def device_select(
    *, preference: str = "auto", cuda_available: bool, cpu_count: int, threads_setting: int = 0
) -> Device:
    """preference: "auto" (CUDA if available), "cuda" or "cpu". Threads: the setting if given,
    else every core this process may use (a worker per host runs one embed process)."""
    preference = (preference or "auto").lower()
    if preference not in ("auto", "cuda", "cpu"):
        raise ValueError(f"DEEPLENS_EMBED_DEVICE must be auto, cuda or cpu, not {preference!r}")
    if preference == "cuda" and not cuda_available:
        logger.warning("DEEPLENS_EMBED_DEVICE=cuda but no GPU is visible: running on the CPU")
    if preference != "cpu" and cuda_available:
        return Device(name="cuda", half=True, threads=0)
    return Device(
        name="cpu", half=False, threads=threads_setting if threads_setting > 0 else max(1, cpu_count)
    )


def device_detect(*, preference: str, threads_setting: int) -> Device:
    import torch

    try:
        cpu_count = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpu_count = os.cpu_count() or 1
    device = device_select(
        preference=preference,
        cuda_available=torch.cuda.is_available(),
        cpu_count=cpu_count,
        threads_setting=threads_setting,
    )
    if device.name == "cpu":
        torch.set_num_threads(device.threads)
    return device
