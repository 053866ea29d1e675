"""``DeploymentApiKey``: an Astro Deployment API key as an immutable Pulumi resource."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional, Union, cast, overload

import pulumi
import pulumi.dynamic

from ._autonaming import refuse_delete_first_autonaming
from ._dynamic import AstroResource, call_inputs
from ._ownership import OWNER_PROPERTY, KeyOwner
from ._schema import (
    DEFAULT_ROLE,
    INPUT_NAMES,
    LOOKUP_OUTPUT_NAMES,
    LOOKUP_PROPERTY,
    OUTPUT_NAMES,
    SECRET_OUTPUTS,
    TYPE_TOKEN,
)
from .provider import DeploymentApiKeyProvider

__all__ = ["DagRoleArgs", "DeploymentApiKey", "DeploymentApiKeyArgs"]


@pulumi.input_type
class DagRoleArgs:
    """A DAG-level role of a key: ``role`` on one DAG (``dag_id``) or on every DAG tagged ``dag_tag``.

    A plain mapping with the same keys (``{"dag_id": "etl_daily", "role": "DAG_VIEWER"}``) works too.
    """

    def __init__(
        __self__,
        *,
        role: pulumi.Input[str],
        dag_id: Optional[pulumi.Input[str]] = None,
        dag_tag: Optional[pulumi.Input[str]] = None,
    ) -> None:
        """
        :param role: ``DAG_VIEWER``, ``DAG_AUTHOR`` or the name of a custom DAG role.
        :param dag_id: The ID of one DAG of the key's Deployment. Give this or ``dag_tag``, not both.
        :param dag_tag: A DAG tag: the role covers every DAG of the Deployment with this tag.
        """
        pulumi.set(__self__, "role", role)
        if dag_id is not None:
            pulumi.set(__self__, "dag_id", dag_id)
        if dag_tag is not None:
            pulumi.set(__self__, "dag_tag", dag_tag)

    @property
    @pulumi.getter
    def role(self) -> pulumi.Input[str]:
        """``DAG_VIEWER``, ``DAG_AUTHOR`` or the name of a custom DAG role."""
        return cast("pulumi.Input[str]", pulumi.get(self, "role"))

    @role.setter
    def role(self, value: pulumi.Input[str]) -> None:
        pulumi.set(self, "role", value)

    @property
    @pulumi.getter(name="dag_id")
    def dag_id(self) -> Optional[pulumi.Input[str]]:
        """The ID of one DAG of the key's Deployment."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "dag_id"))

    @dag_id.setter
    def dag_id(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "dag_id", value)

    @property
    @pulumi.getter(name="dag_tag")
    def dag_tag(self) -> Optional[pulumi.Input[str]]:
        """A DAG tag: the role covers every DAG of the key's Deployment that carries it."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "dag_tag"))

    @dag_tag.setter
    def dag_tag(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "dag_tag", value)


DagRolesInput = pulumi.Input[Sequence[pulumi.Input[Union[DagRoleArgs, Mapping[str, pulumi.Input[str]]]]]]
"""What ``dag_roles`` takes: a list of :class:`DagRoleArgs` or of mappings with the same keys."""


@pulumi.input_type
class DeploymentApiKeyArgs:
    """The set of arguments for constructing a :class:`DeploymentApiKey`."""

    def __init__(
        __self__,
        *,
        deployment_id: pulumi.Input[str],
        name: Optional[pulumi.Input[str]] = None,
        description: Optional[pulumi.Input[str]] = None,
        role: Optional[pulumi.Input[str]] = None,
        expiry_period_in_days: Optional[pulumi.Input[int]] = None,
        keepers: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        kind: Optional[pulumi.Input[str]] = None,
        dag_roles: Optional[DagRolesInput] = None,
        rotate_before_days: Optional[pulumi.Input[int]] = None,
    ) -> None:
        """
        :param deployment_id: The ID of the Deployment the key belongs to. Pass ``deployment.id`` of a
               Deployment resource to make the key depend on it.
        :param name: The key's name, 1 to 256 characters. Defaults to the resource name.
        :param description: What the key is for, at most 500 characters.
        :param role: The key's role on the Deployment: ``DEPLOYMENT_ADMIN`` (the default) or a custom
               Deployment role.
        :param expiry_period_in_days: Days until the key expires, 1 to 3650. Unset: it never expires.
        :param keepers: Arbitrary strings; changing any of them replaces the key (rotation).
        :param kind: The token kind, ``STANDARD`` (the default) or ``DIRECT_ACCESS``.
        :param dag_roles: DAG-level roles on top of ``role``: each a :class:`DagRoleArgs` (or mapping) with
               ``role`` and one of ``dag_id`` and ``dag_tag``, one role per DAG or tag.
        :param rotate_before_days: Replace the key at the first ``pulumi up`` once it expires within this
               many days (1 to ``expiry_period_in_days`` - 1; needs ``expiry_period_in_days``). Changing it
               replaces nothing by itself.
        """
        pulumi.set(__self__, "deployment_id", deployment_id)
        if name is not None:
            pulumi.set(__self__, "name", name)
        if description is not None:
            pulumi.set(__self__, "description", description)
        if role is not None:
            pulumi.set(__self__, "role", role)
        if expiry_period_in_days is not None:
            pulumi.set(__self__, "expiry_period_in_days", expiry_period_in_days)
        if keepers is not None:
            pulumi.set(__self__, "keepers", keepers)
        if kind is not None:
            pulumi.set(__self__, "kind", kind)
        if dag_roles is not None:
            pulumi.set(__self__, "dag_roles", dag_roles)
        if rotate_before_days is not None:
            pulumi.set(__self__, "rotate_before_days", rotate_before_days)

    @property
    @pulumi.getter(name="deployment_id")
    def deployment_id(self) -> pulumi.Input[str]:
        """The ID of the Deployment the key belongs to; ``deployment.id`` links the key to that resource."""
        return cast("pulumi.Input[str]", pulumi.get(self, "deployment_id"))

    @deployment_id.setter
    def deployment_id(self, value: pulumi.Input[str]) -> None:
        pulumi.set(self, "deployment_id", value)

    @property
    @pulumi.getter
    def name(self) -> Optional[pulumi.Input[str]]:
        """The key's name, 1 to 256 characters. Defaults to the resource name."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "name"))

    @name.setter
    def name(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "name", value)

    @property
    @pulumi.getter
    def description(self) -> Optional[pulumi.Input[str]]:
        """What the key is for, at most 500 characters."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "description"))

    @description.setter
    def description(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "description", value)

    @property
    @pulumi.getter
    def role(self) -> Optional[pulumi.Input[str]]:
        """The key's role on the Deployment: ``DEPLOYMENT_ADMIN`` (default) or a custom Deployment role."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "role"))

    @role.setter
    def role(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "role", value)

    @property
    @pulumi.getter(name="expiry_period_in_days")
    def expiry_period_in_days(self) -> Optional[pulumi.Input[int]]:
        """Days until the key expires, 1 to 3650. Unset: the key never expires."""
        return cast("Optional[pulumi.Input[int]]", pulumi.get(self, "expiry_period_in_days"))

    @expiry_period_in_days.setter
    def expiry_period_in_days(self, value: Optional[pulumi.Input[int]]) -> None:
        pulumi.set(self, "expiry_period_in_days", value)

    @property
    @pulumi.getter
    def keepers(self) -> Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]]:
        """Arbitrary strings; changing any of them replaces the key, for scheduled or on-demand rotation."""
        return cast("Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]]", pulumi.get(self, "keepers"))

    @keepers.setter
    def keepers(self, value: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]]) -> None:
        pulumi.set(self, "keepers", value)

    @property
    @pulumi.getter
    def kind(self) -> Optional[pulumi.Input[str]]:
        """The token kind: ``STANDARD`` (the default) or ``DIRECT_ACCESS``."""
        return cast("Optional[pulumi.Input[str]]", pulumi.get(self, "kind"))

    @kind.setter
    def kind(self, value: Optional[pulumi.Input[str]]) -> None:
        pulumi.set(self, "kind", value)

    @property
    @pulumi.getter(name="dag_roles")
    def dag_roles(self) -> Optional[DagRolesInput]:
        """DAG-level roles on top of ``role``, each on one DAG (``dag_id``) or one DAG tag (``dag_tag``)."""
        return cast("Optional[DagRolesInput]", pulumi.get(self, "dag_roles"))

    @dag_roles.setter
    def dag_roles(self, value: Optional[DagRolesInput]) -> None:
        pulumi.set(self, "dag_roles", value)

    @property
    @pulumi.getter(name="rotate_before_days")
    def rotate_before_days(self) -> Optional[pulumi.Input[int]]:
        """Days before expiry from which the next ``pulumi up`` replaces the key; needs ``expiry_period_in_days``."""
        return cast("Optional[pulumi.Input[int]]", pulumi.get(self, "rotate_before_days"))

    @rotate_before_days.setter
    def rotate_before_days(self, value: Optional[pulumi.Input[int]]) -> None:
        pulumi.set(self, "rotate_before_days", value)


class DeploymentApiKey(AstroResource, module="astrokeys", name="DeploymentApiKey"):
    """An Astro Deployment API key (a Deployment API token of the Astro API v1).

    The key is immutable: changing any input (but ``rotate_before_days``) replaces it,
    creating the new key before deleting the old one; so does ``pulumi up`` once the key
    has expired or is within ``rotate_before_days`` of expiring. Its secret is a Pulumi
    secret, encrypted in the state::

        key = DeploymentApiKey("ci", deployment_id=deployment.id, description="CI/CD deploys")
        pulumi.export("key_secret", key.secret)

    Credentials come from stack config (``astrokeys:apiToken``, ``astrokeys:organizationId``,
    ``astrokeys:host``) or the environment (``ASTRO_API_TOKEN``, ``ASTRO_ORGANIZATION_ID``,
    ``ASTRO_API_HOST``), read when Pulumi runs the provider; never in the pickled provider.
    Pulumi records the stack config with the default provider in the state (a secret token
    encrypted), and ``pulumi refresh`` and ``pulumi destroy`` use that record: after changing
    the config, run ``pulumi up`` once first, or pass ``--run-program`` to them.
    """

    key_id: pulumi.Output[str]
    """The key's ID (the Astro API token ID); also the resource's ID."""
    secret: pulumi.Output[Optional[str]]
    """The key's value, for ``Authorization: Bearer`` or ``ASTRO_API_TOKEN``. Always a Pulumi secret."""
    short_token: pulumi.Output[str]
    """A short, non-secret identifier the Astro UI shows for the key."""
    deployment_id: pulumi.Output[str]
    """The ID of the Deployment the key belongs to."""
    organization_id: pulumi.Output[str]
    """The ID of the Astro organization that owns the Deployment."""
    name: pulumi.Output[str]
    """The key's name."""
    description: pulumi.Output[str]
    """The key's description (empty when none was given)."""
    role: pulumi.Output[str]
    """The key's role on the Deployment."""
    expiry_period_in_days: pulumi.Output[Optional[int]]
    """Days the key is valid for, or ``None`` when it never expires."""
    keepers: pulumi.Output[Mapping[str, str]]
    """The rotation triggers the key was created with."""
    dag_roles: pulumi.Output[Sequence[Mapping[str, str]]]
    """The key's DAG roles, each ``role`` with ``dag_id`` or ``dag_tag``, ordered by DAG, then tag."""
    rotate_before_days: pulumi.Output[Optional[int]]
    """Days before expiry from which ``pulumi up`` replaces the key, or ``None``."""
    created_at: pulumi.Output[str]
    """When the key was created, ``YYYY-MM-DDTHH:MM:SSZ``."""
    start_at: pulumi.Output[str]
    """When the key became valid, ``YYYY-MM-DDTHH:MM:SSZ``."""
    end_at: pulumi.Output[Optional[str]]
    """When the key expires, ``YYYY-MM-DDTHH:MM:SSZ``, or ``None`` when it never expires."""
    last_used_at: pulumi.Output[Optional[str]]
    """Lookups only (:meth:`get`): when the key last authenticated a request, or ``None`` if never."""
    created_by: pulumi.Output[Optional[Mapping[str, str]]]
    """Lookups only (:meth:`get`): who created the key, ``id``, ``subject_type`` (``SERVICEKEY`` for an
    API token, ``USER`` for a person) and ``api_token_name`` or ``username``/``full_name``."""
    kind: pulumi.Output[str]
    """The token kind, ``STANDARD`` or ``DIRECT_ACCESS``."""

    @overload
    def __init__(
        self,
        resource_name: str,
        args: DeploymentApiKeyArgs,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        resource_name: str,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        deployment_id: pulumi.Input[str],
        name: Optional[pulumi.Input[str]] = None,
        description: Optional[pulumi.Input[str]] = None,
        role: Optional[pulumi.Input[str]] = None,
        expiry_period_in_days: Optional[pulumi.Input[int]] = None,
        keepers: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        kind: Optional[pulumi.Input[str]] = None,
        dag_roles: Optional[DagRolesInput] = None,
        rotate_before_days: Optional[pulumi.Input[int]] = None,
    ) -> None: ...

    def __init__(self, resource_name: str, *args: Any, **kwargs: Any) -> None:
        """Create a key for a Deployment; see :class:`DeploymentApiKeyArgs` for every input.

        Takes the call forms of Pulumi's generated SDKs: ``DeploymentApiKey(name,
        DeploymentApiKeyArgs(...), opts)``, ``DeploymentApiKey(name, deployment_id=..., opts=opts)``
        and ``DeploymentApiKey(name, opts, deployment_id=...)``.

        :param resource_name: The resource's name, unique in the stack; also the key's default name.
        :param args: The inputs as one object, instead of the keyword arguments.
        :param opts: Resource options. ``deleted_with=deployment`` skips deleting the key when its
               Deployment is destroyed in the same run (Astro deletes a Deployment's keys with it);
               ``replacement_trigger`` replaces the key when its value changes, like ``keepers``.
        """
        inputs, opts = call_inputs("DeploymentApiKey", resource_name, DeploymentApiKeyArgs, INPUT_NAMES, args, kwargs)
        if inputs["deployment_id"] is None:
            raise TypeError(
                f"DeploymentApiKey {resource_name!r}: deployment_id is required; pass the ID of the "
                "Deployment, or deployment.id of a Deployment resource"
            )
        refuse_delete_first_autonaming(resource_name, TYPE_TOKEN)
        if inputs["name"] is None:
            inputs["name"] = resource_name
        if inputs["role"] is None:
            inputs["role"] = DEFAULT_ROLE
        owner = KeyOwner.of(pulumi.get_project(), pulumi.get_stack(), resource_name)
        if owner is not None:
            # Hidden (Pulumi shows no `__` property) and never diffed: written into the create marker.
            inputs[OWNER_PROPERTY] = owner.to_property()
        self._register(resource_name, inputs, opts)

    def _register(
        self,
        resource_name: str,
        inputs: Mapping[str, Any],
        opts: Optional[pulumi.ResourceOptions],
        outputs: tuple[str, ...] = OUTPUT_NAMES,
    ) -> None:
        props = dict(inputs, **{output: None for output in outputs})
        self._register_with(DeploymentApiKeyProvider(), resource_name, props, opts, SECRET_OUTPUTS)

    @staticmethod
    def get(
        resource_name: str,
        id: pulumi.Input[str],
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> DeploymentApiKey:
        """Look up an existing key's metadata by its key ID. Its ``secret`` is not available
        (the Astro API shows a key's value only once, when it is created). Besides the outputs of
        a managed key, a looked-up key has ``last_used_at`` and ``created_by``.

        :param resource_name: The unique name of the resulting resource.
        :param id: The key ID (the Astro API token ID).
        :param opts: Options for the resource.
        """
        key = DeploymentApiKey.__new__(DeploymentApiKey)
        key._register(
            resource_name,
            {**dict.fromkeys(INPUT_NAMES), LOOKUP_PROPERTY: True},
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)),
            OUTPUT_NAMES + LOOKUP_OUTPUT_NAMES,
        )
        return key
