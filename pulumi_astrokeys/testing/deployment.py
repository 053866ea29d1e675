"""``BareDeployment``: a minimal Astro Deployment as a Pulumi resource, for examples and tests.

It stands in for ``pulumi_astronomer.Deployment`` where that provider cannot run (the
local emulator, tests), so a program can link a key to a Deployment in its graph::

    deployment = BareDeployment("etl", workspace_id=workspace_id, name="etl")
    key = DeploymentApiKey(
        "ci",
        deployment_id=deployment.id,
        opts=pulumi.ResourceOptions(deleted_with=deployment),
    )

Against real Astro, pass ``pulumi_astronomer.Deployment(...).id`` the same way. This
resource creates a bare Standard Deployment and nothing more; it is not meant to
manage production Deployments.

Like :class:`~pulumi_astrokeys.DeploymentApiKey`, its provider lives at a fixed import
path, is pickled by reference with no state, and reads its credentials at run time
(stack config ``astrokeys:*`` or the ``ASTRO_*`` environment). It shares the key
provider's client, so both resource types pace their requests under one rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, cast, overload

import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)

from .._dynamic import AstroResource, AstroResourceProvider, call_inputs
from .._inputs import is_unknown

if TYPE_CHECKING:
    from .._client import AstroClient
    from .._models import Deployment as DeploymentModel

__all__ = ["BareDeployment", "BareDeploymentArgs", "BareDeploymentProvider"]

INPUT_NAMES: tuple[str, ...] = ("workspace_id", "name")
OUTPUT_NAMES: tuple[str, ...] = ("deployment_id", "organization_id")
_MAX_NAME_LENGTH = 500


class BareDeploymentProvider(AstroResourceProvider):
    """Creates, reads and deletes Astro Deployments. Holds no state or secret when pickled."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Require a workspace ID shaped like an Astro ID and a name of 1 to 500 characters."""
        from .._models import ASTRO_ID_PATTERN

        failures: list[CheckFailure] = []
        workspace_id, name = news.get("workspace_id"), news.get("name")
        if not is_unknown(workspace_id) and not (
            isinstance(workspace_id, str) and ASTRO_ID_PATTERN.fullmatch(workspace_id)
        ):
            failures.append(
                CheckFailure(
                    "workspace_id",
                    "workspace_id must be the ID of an Astro Workspace (25 characters, like clm8q7f6q000008lcgyougpsk).",
                )
            )
        if not is_unknown(name) and not (
            isinstance(name, str) and name.strip() and len(name) <= _MAX_NAME_LENGTH
        ):
            failures.append(CheckFailure("name", f"name must be 1 to {_MAX_NAME_LENGTH} characters, not blank."))
        return CheckResult({key: news[key] for key in INPUT_NAMES if key in news}, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Any changed or unknown input replaces the Deployment; ``__provider`` is never compared."""
        replaces = [
            key for key in INPUT_NAMES if is_unknown(news.get(key)) or news.get(key) != olds.get(key)
        ]
        return DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create a Standard Deployment; its ID is the resource ID."""
        from .._errors import AstroAPIError, KeyOperationError
        from .._messages import api_failure

        def step() -> CreateResult:
            client = self.client()
            try:
                deployment = create_deployment(client, props["workspace_id"], props["name"])
            except AstroAPIError as error:
                raise KeyOperationError(
                    api_failure("create", _describe(props.get("name"), props.get("workspace_id")), error)
                ) from None
            return CreateResult(deployment.id, _outputs(deployment, props, client.settings.organization_id))

        return self.run_step(step)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh the Deployment; one that is gone reads as an empty ID and leaves the state."""
        from .._errors import AstroAPIError, KeyOperationError, NotFoundError
        from .._messages import api_failure

        def step() -> ReadResult:
            client = self.client()
            try:
                deployment = client.get_deployment(id_)
            except NotFoundError:
                return ReadResult("", {})
            except AstroAPIError as error:
                raise KeyOperationError(
                    api_failure("read", _describe(props.get("name"), props.get("workspace_id"), id_), error)
                ) from None
            return ReadResult(deployment.id, _outputs(deployment, props, client.settings.organization_id))

        return self.run_step(step)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        """Never reached: every change replaces the Deployment. Fails without changing anything."""
        from .._errors import KeyOperationError

        raise KeyOperationError(
            "This Deployment resource is never updated in place; nothing was changed. "
            "Run `pulumi refresh` and then `pulumi up`, which replaces it instead."
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the Deployment (Astro deletes its API keys with it); one already gone counts as deleted."""
        from .._errors import AstroAPIError, KeyOperationError, NotFoundError
        from .._messages import api_failure

        def step() -> None:
            try:
                delete_deployment(self.client(), id_)
            except NotFoundError:
                pass
            except AstroAPIError as error:
                raise KeyOperationError(
                    api_failure("delete", _describe(props.get("name"), props.get("workspace_id"), id_), error)
                ) from None

        self.run_step(step)


def create_deployment(client: AstroClient, workspace_id: str, name: str) -> DeploymentModel:
    """Create a Standard Deployment in a workspace (``POST /deployments``), paced and retried by ``client``."""
    from .._client import decode
    from .._models import Deployment

    body = {"type": "STANDARD", "name": name, "workspaceId": workspace_id}
    return decode(Deployment, client._request("POST", "/deployments", json=body))


def delete_deployment(client: AstroClient, deployment_id: str) -> None:
    """Delete a Deployment (``DELETE /deployments/{id}``); Astro deletes its Deployment API tokens with it."""
    client._request("DELETE", f"/deployments/{deployment_id}", not_found_after_retry_is_success=True)


def _describe(name: object, workspace_id: object, deployment_id: object = None) -> str:
    label = f"Deployment {name!r}" if name else "Deployment"
    if deployment_id:
        label += f" ({deployment_id})"
    if workspace_id:
        label += f" in Workspace {workspace_id}"
    return label


def _outputs(deployment: DeploymentModel, props: Mapping[str, Any], organization_id: str) -> dict[str, Any]:
    return {
        "deployment_id": deployment.id,
        "name": deployment.name,
        "workspace_id": deployment.workspace_id or props.get("workspace_id"),
        "organization_id": deployment.organization_id or organization_id,
    }


# Stacks record the provider by its import path; an earlier release named it so.
DeploymentProvider = BareDeploymentProvider


@pulumi.input_type
class BareDeploymentArgs:
    """The set of arguments for constructing a :class:`BareDeployment`."""

    def __init__(__self__, *, workspace_id: pulumi.Input[str], name: Optional[pulumi.Input[str]] = None) -> None:
        """
        :param workspace_id: The ID of the Workspace to create the Deployment in.
        :param name: The Deployment's name. Defaults to the resource name.
        """
        pulumi.set(__self__, "workspace_id", workspace_id)
        if name is not None:
            pulumi.set(__self__, "name", name)

    @property
    @pulumi.getter(name="workspace_id")
    def workspace_id(self) -> pulumi.Input[str]:
        """The ID of the Workspace to create the Deployment in."""
        return cast("pulumi.Input[str]", pulumi.get(self, "workspace_id"))

    @workspace_id.setter
    def workspace_id(self, value: pulumi.Input[str]) -> None:
        pulumi.set(self, "workspace_id", value)

    @property
    @pulumi.getter
    def name(self) -> Optional[pulumi.Input[str]]:
        """The Deployment's name; the resource name when unset."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "name"))

    @name.setter
    def name(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "name", value)


# The type keeps its name (``...astrokeys:Deployment``), so existing stacks' URNs stay the same.
class BareDeployment(AstroResource, module="astrokeys", name="Deployment"):
    """A bare Standard Astro Deployment, for examples and tests.

    Stands in for ``pulumi_astronomer.Deployment`` on the local emulator. Changing any
    input replaces the Deployment, and deleting it deletes its API keys: give keys
    ``opts=pulumi.ResourceOptions(deleted_with=deployment)``.
    """

    deployment_id: pulumi.Output[str]
    """The Deployment's ID; also the resource's ID."""
    name: pulumi.Output[str]
    """The Deployment's name."""
    workspace_id: pulumi.Output[str]
    """The ID of the Workspace the Deployment belongs to."""
    organization_id: pulumi.Output[str]
    """The ID of the Astro organization that owns the Deployment."""

    @overload
    def __init__(
        self, resource_name: str, args: BareDeploymentArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        workspace_id: pulumi.Input[str],
        name: Optional[pulumi.Input[str]] = None,
    ) -> None: ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        """Create a Deployment in a Workspace, in any of the call forms of Pulumi's generated SDKs.

        :param resource_name: The resource's name, unique in the stack; also the default Deployment name.
        :param args: The inputs as one object, instead of the keyword arguments.
        :param opts: Resource options.
        """
        source, opts = call_inputs("BareDeployment", resource_name, BareDeploymentArgs, INPUT_NAMES, args, kwargs)
        if source["workspace_id"] is None:
            raise TypeError(f"BareDeployment {resource_name!r}: workspace_id is required")
        props: dict[str, Any] = {
            "workspace_id": source["workspace_id"],
            "name": resource_name if source["name"] is None else source["name"],
        }
        props.update({output: None for output in OUTPUT_NAMES})
        self._register_with(BareDeploymentProvider(), resource_name, props, opts)
