"""`<param>` entities of XML and YAML launch files, typed as ROS 2's front ends type them.

ROS 2 types a parameter's value in three steps, and so do we:

1. the written value: XML gives text (split at `value-sep` into a list of texts when given), YAML
   gives what YAML typed (`100` an int, `'100'` a string, `[2, 5]` a list);
2. XML text is typed by `type` (`str`, `int`, `float`, `bool`, `list_of_str`, ...; YAML rules
   when absent), keeping the text where it does not convert (it may hold substitutions);
3. each string left is parsed for substitutions: pure text becomes its unescaped self (`\\'2\\'`
   is `'2'`), text with `$(...)` a list of substitutions typed when performed.

Each `<param>` is one item in document order (a mapping, or a :class:`ParameterFile` for
`from=`), so a later parameter overrides an earlier one whether it comes from a file or not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .entity import ENTITIES, RAW, coerce_scalar
from .ros_args import ParameterFile, ParameterValue, type_spec
from .substitutions import TextSubstitution

if TYPE_CHECKING:
    from .entity import Entity
    from .frontend import FrontendParser

__all__ = ["parse_parameters", "typed_text"]


def typed_text(text: str, spec: tuple[type | None, bool]) -> Any:
    """Type written text by `spec` (element type, is list), keeping text that does not convert."""
    element, is_list = spec
    if is_list:
        value = coerce_scalar(text)
        if isinstance(value, list) and all(isinstance(v, (str, element or object)) for v in value):
            return [str(v) if element is str and not isinstance(v, str) else v for v in value]
        return text
    if element is None:
        return coerce_scalar(text)
    if element is str:
        return text
    if element in (int, float):
        try:
            return element(text)
        except ValueError:
            return text
    # bool: ROS 2 accepts 1 and 0 too
    lowered = {"1": "true", "0": "false"}.get(text, text)
    value = coerce_scalar(lowered)
    return value if isinstance(value, bool) else text


def _if_substitutions(value: Any, parser: FrontendParser) -> Any:
    """Strings become their unescaped text, or a list of substitutions; lists item by item."""
    if isinstance(value, list):
        return [_if_substitutions(v, parser) for v in value]
    if not isinstance(value, str):
        return value
    subs = parser.parse_substitution(value)
    if len(subs) == 1 and isinstance(subs[0], TextSubstitution):
        return subs[0].text
    return subs


def _value(entity: Entity, parser: FrontendParser) -> ParameterValue:
    type_id = entity.get_attr("type", optional=True)
    try:
        spec = type_spec(type_id)
    except ValueError as err:
        raise entity.error(f"<param> {err}") from None
    separator = entity.get_attr("value-sep", optional=True)
    raw = entity.get_attr("value", data_type=RAW)
    if separator is not None:
        if not isinstance(raw, str):
            raise entity.error("<param> value-sep needs a text value")
        items = raw.split(separator)
        element = spec[0]
        value: Any = [typed_text(item, (element, False)) for item in items]
        spec = (element, True)
    elif isinstance(raw, str) and not entity.typed_source:
        value = typed_text(raw, spec)
    else:
        value = raw
    return ParameterValue(_if_substitutions(value, parser), value_type=spec)


def _nested(entities: list[Entity], parser: FrontendParser) -> dict[Any, Any]:
    values: dict[Any, Any] = {}
    for entity in entities:
        name = entity.get_attr("name")
        nested = entity.get_attr("param", data_type=ENTITIES, optional=True)
        if nested is not None:
            if entity.has_attr("value") or entity.has_attr("type"):
                raise entity.error(f"<param name='{name}'> has both nested params and a value")
            values[name] = _nested(nested, parser)
        else:
            values[name] = _value(entity, parser)
        parser.finish(entity, None)
    return values


def parse_parameters(entities: list[Entity], parser: FrontendParser) -> list[Any]:
    """The `<param>` children of a node, one item each in document order."""
    out: list[Any] = []
    for entity in entities:
        source = entity.get_attr("from", optional=True)
        if source is not None:
            if entity.has_attr("name"):
                raise entity.error("<param> takes either 'from' or 'name', not both")
            allow = entity.get_attr("allow_substs", data_type=bool, optional=True)
            path = parser.parse_substitution(source)
            out.append(parser.finish(entity, ParameterFile(path, allow_substs=bool(allow))))
            continue
        if entity.has_attr("allow_substs"):
            raise entity.error("<param> 'allow_substs' goes with 'from', not with 'name'")
        out.append(_nested([entity], parser))
    return out
