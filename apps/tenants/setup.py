"""What a new tenant's schema gets when it is provisioned, from the apps that own it: each app
registers its step from its AppConfig.ready() (storage: the default location; images: thumbnail
specs and the quota's counter row). The tenants app runs them in order inside the tenant's schema
and never imports those apps."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SetupStep:
    name: str
    order: int
    run: Callable[[], object]


_steps: dict[str, SetupStep] = {}


def tenant_setup_register(name: str, run: Callable[[], object], *, order: int) -> None:
    """Steps run by ascending `order` (a step may need an earlier one: specs need the location)."""
    _steps[name] = SetupStep(name=name, order=order, run=run)


def tenant_setup_steps() -> list[SetupStep]:
    return sorted(_steps.values(), key=lambda step: (step.order, step.name))
