"""What the XML and YAML front ends share: turning entities into actions by tag name."""

from __future__ import annotations

from typing import Any, TypeVar

from .action import REGISTRY, Action
from .entity import Entity, did_you_mean
from .errors import SubstitutionError, _LocatedError
from .launch_description import LaunchDescription
from .substitutions import Substitution, parse_substitution

__all__ = ["FrontendParser"]

T = TypeVar("T")


class FrontendParser:
    """Parses entities of one file; errors name the entity's file and line."""

    def __init__(self) -> None:
        self._entity: Entity | None = None

    def parse_substitution(self, text: Any) -> list[Substitution]:
        try:
            return parse_substitution(text if isinstance(text, str) else str(text))
        except SubstitutionError as err:
            raise err.at(self._entity.location if self._entity else None) from None

    def finish(self, entity: Entity, value: T) -> T:
        """Check `entity` (a sub-entity like `<param>`) had no unknown attribute; pass `value`."""
        entity.assert_entity_completely_parsed()
        return value

    def parse_action(self, entity: Entity) -> Action:
        from . import actions as _actions  # noqa: F401  (registers every tag)
        from . import dora_action as _dora  # noqa: F401

        cls = REGISTRY.get(entity.type_name)
        if cls is None:
            # Only tags that work, one spelling each (ROS 2 writes most with '_').
            working = [t for t, c in REGISTRY.items() if getattr(c, "supported", True)]
            known = ", ".join(
                sorted(t for t in working if "-" not in t or t == "push-ros-namespace")
            )
            hint = did_you_mean(entity.type_name, working)
            raise entity.error(f"unknown tag <{entity.type_name}>{hint} (supported: {known})")
        outer, self._entity = self._entity, entity
        try:
            action = cls.parse(entity, self)
        except _LocatedError as err:
            raise err.at(entity.location) from None
        finally:
            self._entity = outer
        entity.assert_entity_completely_parsed()
        action.location = entity.location
        return action

    def parse_description(self, root: Entity) -> LaunchDescription:
        if root.type_name != "launch":
            raise root.error(f"the root tag must be <launch>, got <{root.type_name}>")
        self._entity = root
        root.get_attr("version", optional=True)
        description = LaunchDescription([self.parse_action(child) for child in root.children])
        root.assert_entity_completely_parsed()
        description.location = root.location
        return description
