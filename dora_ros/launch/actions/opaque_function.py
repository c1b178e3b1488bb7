"""`OpaqueFunction`: call Python code with the launch context; it may return more actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..action import Action
from ..errors import LaunchError, LaunchFileError

if TYPE_CHECKING:
    from ..context import LaunchContext


class OpaqueFunction(Action):
    def __init__(
        self,
        *,
        function: Callable[..., Any],
        args: Sequence[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
        **rest: Any,
    ) -> None:
        super().__init__(**rest)
        self.function = function
        self.args = list(args or [])
        self.kwargs = dict(kwargs or {})

    def execute(self, context: LaunchContext) -> Iterable[Any] | None:
        if context.shared.printing:
            # The function's actions are part of what --print shows, so it must run; say so,
            # since whatever else it does (files, commands) happens too.
            name = getattr(self.function, "__name__", "function")
            where = f" ({self.location})" if self.location else ""
            context.shared.note(f"ran OpaqueFunction {name}{where} to resolve the launch")
        try:
            result = self.function(context, *self.args, **self.kwargs)
        except LaunchError:
            raise
        except Exception as err:
            name = getattr(self.function, "__name__", "function")
            raise LaunchFileError(f"OpaqueFunction {name}: {type(err).__name__}: {err}") from err
        return list(result) if result else None
