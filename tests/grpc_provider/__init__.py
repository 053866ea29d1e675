"""The engine's side of the provider protocol, to call the SDK's real dynamic-provider server in tests.

:class:`DynamicProviderProcess` runs ``python -m pulumi.dynamic`` and calls it over gRPC as
Pulumi's engine does; :mod:`.props` converts property values to and from the wire.
"""

from .client import DynamicProviderProcess, ProviderError, emulator_provider_process
from .props import UNKNOWN, Secret

__all__ = ["UNKNOWN", "DynamicProviderProcess", "ProviderError", "Secret", "emulator_provider_process"]
