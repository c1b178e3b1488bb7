"""`<append_env>` / `AppendEnvironmentVariable`: add to a variable like PATH for later processes."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..entity import to_bool
from ..errors import LaunchFileError
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("append_env", "append-env")
class AppendEnvironmentVariable(Action):
    """Append (or prepend) `value` with `separator` (os.pathsep); set it when unset or empty."""

    def __init__(
        self,
        name: Any,
        value: Any,
        prepend: Any = False,
        separator: Any = os.pathsep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = normalize(name)
        self.value = normalize(value)
        self.prepend = prepend if isinstance(prepend, bool) else normalize(prepend)
        self.separator = normalize(separator)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        for attr in ("prepend", "separator"):
            value = entity.get_attr(attr, optional=True)
            if value is not None:
                kwargs[attr] = parser.parse_substitution(value)
        name = parser.parse_substitution(entity.get_attr("name"))
        return cls(name, parser.parse_substitution(entity.get_attr("value")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        name = perform(context, self.name)
        value = perform(context, self.value)
        prepend = self.prepend
        if not isinstance(prepend, bool):
            text = perform(context, prepend)
            parsed = to_bool(text)
            if parsed is None:
                raise LaunchFileError(f"append_env: prepend must be true or false, got '{text}'")
            prepend = parsed
        separator = perform(context, self.separator)
        current = context.environment.get(name, "")
        if not current:
            context.environment[name] = value
        elif prepend:
            context.environment[name] = value + separator + current
        else:
            context.environment[name] = current + separator + value
