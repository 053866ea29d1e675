"""A create the API commits but answers too late: the client times out, the provider cleans up.

The whole story runs through the real Pulumi CLI and engine; the failure modes around it
call the provider directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from real_cli_support import Run, World, keys_program, secret_of

from pulumi_astrokeys import KeyOperationError
from pulumi_astrokeys.provider import DeploymentApiKeyProvider
from pulumi_astrokeys.testing.emulator import Emulator

CREATE = r"/tokens$"
TIMEOUT = "0.5"
LATE = 2.0  # seconds the committed answer is held back: well past the timeout


def settings(emulator: Emulator) -> dict[str, str]:
    return {
        **emulator.stack_config(),
        "astrokeys:requestTimeout": TIMEOUT,
        "astrokeys:retryBackoff": "0.01",
    }


def named(emulator: Emulator, name: str) -> list[str]:
    return [t["id"] for t in emulator.list_all_tokens(emulator.organization_id) if t["name"] == name]


def logged_once_answered(emulator: Emulator, posts: int) -> list[dict[str, Any]]:
    """The request log once ``posts`` creates are in it: a late answer is logged when it is finally sent."""
    deadline = time.monotonic() + 30
    while True:
        log = emulator.requests()
        if sum(r["method"] == "POST" for r in log) >= posts or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def authenticates(emulator: Emulator, secret: str) -> bool:
    with emulator.client(secret) as api:
        return api.get(f"/deployments/{emulator.deployment_ids[0]}").status_code == 200


def provider_stderr(run: Run) -> str:
    """What the provider process wrote to its stderr: the engine passes each line on as an
    ``info#err`` diagnostic."""
    return "".join(
        event.diagnostic_event.message
        for event in run.events
        if event.diagnostic_event is not None and event.diagnostic_event.severity == "info#err"
    )


def test_a_create_answered_after_the_timeout_leaves_the_key_once_and_no_orphan(
    emulator: Emulator, tmp_path: Path
) -> None:
    stack = World(emulator, tmp_path).stack(keys_program({"ci": {"deployment_id": emulator.deployment_ids[0]}}))
    stack.stack.set_all_config({name: auto.ConfigValue(value) for name, value in settings(emulator).items()})
    emulator.inject_fault("POST", CREATE, action="commit-then-delay", delay_seconds=LATE)

    result = stack.up()

    key = stack.keys()["ci"]
    assert named(emulator, "ci") == [key["id"]]
    assert result.plain("ci_secret") == secret_of(key)
    assert authenticates(emulator, stack.outputs(show_secrets=True)["ci_secret"])
    # The first create committed a token whose answer never arrived in time; it was deleted.
    log = [(r["method"], r["path"].rsplit("/", 1)[-1], r["fault"]) for r in logged_once_answered(emulator, 3)]
    creates = [entry for entry in log if entry[:2] == ("POST", "tokens")]
    assert len(creates) == 2 and {fault for _, _, fault in creates} == {"commit-then-delay", None}
    # One more POST gives the answered token its description in place of its attempt's marker.
    assert [entry for entry in log if entry[0] == "POST" and entry[1] != "tokens"] == [("POST", key["id"], None)]
    deleted = [last for method, last, _ in log if method == "DELETE"]
    assert len(deleted) == 1 and deleted[0] != key["id"]
    assert f"deleting token {deleted[0]} left by an unanswered create" in provider_stderr(result)


@pytest.fixture
def provider(emulator: Emulator) -> DeploymentApiKeyProvider:
    provider = DeploymentApiKeyProvider()
    provider.configure(
        ConfigureRequest(Config({**settings(emulator), "astrokeys:apiToken": emulator.api_token}, "test"))
    )
    return provider


def create(provider: DeploymentApiKeyProvider, emulator: Emulator) -> Any:
    checked = provider.check({}, {"deployment_id": emulator.deployment_ids[0], "name": "ci"})
    return provider.create(checked.inputs)


def test_two_late_answers_fail_in_one_sentence_and_leave_no_token(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    emulator.inject_fault("POST", CREATE, action="commit-then-delay", delay_seconds=LATE, count=2)

    with pytest.raises(KeyOperationError) as caught:
        create(provider, emulator)

    message = str(caught.value)
    assert "'ci'" in message and "did not confirm the create after 2 attempts" in message
    assert "ReadTimeout" in message and "\n" not in message and message.endswith(".")
    assert named(emulator, "ci") == []
    posts = [r for r in logged_once_answered(emulator, 2) if r["method"] == "POST" and r["path"].endswith("/tokens")]
    assert [(r["fault"], r["status"]) for r in posts] == [("commit-then-delay", 200)] * 2


def test_without_the_short_timeout_the_late_answer_is_simply_waited_for(emulator: Emulator) -> None:
    provider = DeploymentApiKeyProvider()
    config = {**settings(emulator), "astrokeys:apiToken": emulator.api_token}
    del config["astrokeys:requestTimeout"]
    provider.configure(ConfigureRequest(Config(config, "test")))
    emulator.inject_fault("POST", CREATE, action="commit-then-delay", delay_seconds=0.3)

    created = create(provider, emulator)

    assert named(emulator, "ci") == [created.id]
    assert [r["method"] for r in emulator.requests()].count("DELETE") == 0


def test_a_server_error_while_removing_the_stray_does_not_leave_it_behind(
    emulator: Emulator, provider: DeploymentApiKeyProvider
) -> None:
    emulator.inject_fault("POST", CREATE, action="commit-then-drop")
    emulator.inject_fault("DELETE", r"/tokens/", status=500)  # the client does not retry a 500

    created = create(provider, emulator)

    assert named(emulator, "ci") == [created.id]
    deletes = [r["status"] for r in emulator.requests() if r["method"] == "DELETE"]
    assert deletes == [500, 204]
