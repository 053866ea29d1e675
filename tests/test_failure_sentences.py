"""A step's failure is built in parts (what failed, why, what was left, the fix) and said once.

No part is cut out of another: a fix that holds a ``"; "`` of its own stays whole, at the
end, after what was left in place; and an error keeps its type on its way to the engine.
"""

from __future__ import annotations

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from pulumi_astrokeys import ConfigurationError, KeyOperationError
from pulumi_astrokeys._dynamic import AstroResourceProvider
from pulumi_astrokeys._errors import Failure
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

TOKENS = r"/tokens$"
# The fix for an answer the package has no advice of its own for: it holds a "; ".
SUPPORT_FIX = "run the same command again; if it keeps failing, quote the requestId to Astronomer support"


def provider_for(emulator: Emulator) -> DeploymentApiKeyProvider:
    provider = DeploymentApiKeyProvider()
    config = {
        **emulator.stack_config(),
        "astrokeys:apiToken": emulator.api_token,
        "astrokeys:retryBackoff": "0.01",
        "astrokeys:requestTimeout": "1",
    }
    provider.configure(ConfigureRequest(Config(config, "test")))
    return provider


def test_a_fix_with_a_semicolon_stays_whole_after_what_was_left_in_place(emulator: Emulator) -> None:
    # The first attempt's answer is lost, the second is refused (409, which the package has no advice
    # for), and the clean-up may not list the tokens: what the first made stays, and the sentence says so.
    emulator.inject_fault("POST", TOKENS, action="commit-then-drop")
    emulator.inject_fault("POST", TOKENS, status=409, message="conflict")
    emulator.inject_fault("GET", TOKENS, status=403, count=50)
    provider = provider_for(emulator)
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci"})

    with pytest.raises(KeyOperationError) as caught:
        provider.create(checked.inputs)

    message = str(caught.value)
    [refused] = [r for r in emulator.requests() if r["method"] == "POST" and r["status"] == 409]
    why = f"with 409 conflict, requestId {refused['requestId']}; on Deployment {emulator.deployment_ids[0]}, "
    assert message.startswith(f"Could not create Deployment API key 'ci' on Deployment {emulator.deployment_ids[0]}: ")
    assert why in message, "what was left follows the reason, with no part of the fix between them"
    assert message.endswith(f"was left in place for you to check and delete, then {SUPPORT_FIX}.")
    assert message.count("run the same command again") == 1 and "\n" not in message
    failure = caught.value.failure
    assert failure is not None and failure.fix == SUPPORT_FIX and failure.left_on == emulator.deployment_ids[0]
    assert failure.left is not None and "made by a create whose answer was lost" in failure.left


def test_each_shape_of_a_failure_is_said_once() -> None:
    failure = Failure("create", "Deployment API key 'ci'", "the API refused", "do this; then that")

    assert str(failure) == "Could not create Deployment API key 'ci': the API refused; do this; then that."
    assert str(failure.leaving(None, on="d1")) == str(failure)
    undone = Failure("create", "key 'ci'", "it failed", "run `pulumi up` again", undone="it was deleted")
    assert str(undone) == "Could not create key 'ci': it failed, so it was deleted; run `pulumi up` again."
    assert str(undone.leaving("token t1", on="d1")) == (
        "Could not create key 'ci': it failed; on Deployment d1, token t1 was left in place for you to check "
        "and delete, then run `pulumi up` again."
    )


def test_a_configuration_error_in_a_step_stays_a_configuration_error() -> None:
    def step() -> None:
        raise ConfigurationError("No Astro API token is configured: set ASTRO_API_TOKEN")

    with pytest.raises(ConfigurationError) as caught:
        AstroResourceProvider.run_step(step)

    assert type(caught.value) is ConfigurationError
    assert str(caught.value) == "No Astro API token is configured: set ASTRO_API_TOKEN."
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_key_operation_error_keeps_its_parts_through_a_step() -> None:
    failure = Failure("delete", "key 'ci'", "the API refused", "run the same command again")

    def step() -> None:
        raise KeyOperationError(failure)

    with pytest.raises(KeyOperationError) as caught:
        AstroResourceProvider.run_step(step)

    assert caught.value.failure == failure and str(caught.value) == str(failure)
