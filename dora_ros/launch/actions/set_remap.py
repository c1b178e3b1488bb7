"""`<set_remap>` / `SetRemap`: a remapping rule for every node started later in scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..action import Action, register
from ..substitutions import normalize, perform

if TYPE_CHECKING:
    from ..context import LaunchContext
    from ..entity import Entity
    from ..frontend import FrontendParser


@register("set_remap", "set-remap")
class SetRemap(Action):
    def __init__(self, src: Any, dst: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.src = normalize(src)
        self.dst = normalize(dst)

    @classmethod
    def parse(cls, entity: Entity, parser: FrontendParser) -> Action:
        kwargs = cls.parse_common(entity, parser)
        src = parser.parse_substitution(entity.get_attr("from"))
        return cls(src, parser.parse_substitution(entity.get_attr("to")), **kwargs)

    def execute(self, context: LaunchContext) -> None:
        context.ros_remaps.append((perform(context, self.src), perform(context, self.dst)))
