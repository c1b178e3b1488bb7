"""`<set_parameter>` / `SetParameter`: a parameter for every node started later in scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("set_parameter", "set-parameter")
class SetParameter(Action):
    def __init__(self, name: Any, value: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = normalize(name)
        self.value = value

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        name = parser.parse_substitution(entity.get_attr("name"))
        return cls(name, parser.parse_substitution(entity.get_attr("value")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        from .node import evaluate_parameter_value

        value = evaluate_parameter_value(context, self.value)
        context.add_global_param((perform(context, self.name), value))
