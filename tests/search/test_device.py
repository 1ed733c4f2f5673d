import pytest

from apps.search.embedders.device import Device, device_select


@pytest.mark.parametrize(
    ("preference", "cuda", "expected"),
    [
        ("auto", True, Device(name="cuda", half=True, threads=0)),
        ("auto", False, Device(name="cpu", half=False, threads=8)),
        ("cuda", True, Device(name="cuda", half=True, threads=0)),
        ("cuda", False, Device(name="cpu", half=False, threads=8)),
        ("cpu", True, Device(name="cpu", half=False, threads=8)),
        ("CPU", False, Device(name="cpu", half=False, threads=8)),
    ],
)
def test_device_selection_prefers_cuda_in_fp16_and_falls_back_to_cpu(preference, cuda, expected):
    assert device_select(preference=preference, cuda_available=cuda, cpu_count=8) == expected


def test_cpu_threads_follow_the_setting_when_given():
    assert device_select(preference="auto", cuda_available=False, cpu_count=8, threads_setting=3).threads == 3
    assert device_select(preference="auto", cuda_available=False, cpu_count=0).threads == 1


def test_an_unknown_device_preference_is_refused():
    with pytest.raises(ValueError, match="auto, cuda or cpu"):
        device_select(preference="tpu", cuda_available=False, cpu_count=2)
