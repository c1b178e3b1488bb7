"""Arrow types, default values, constants and type-name resolution."""

from __future__ import annotations

import pyarrow as pa
import pytest

from dora_ros import msgconv
from dora_ros.msgconv import (
    ActionDefinition,
    MessageDefinition,
    ServiceDefinition,
    TypeRegistry,
    UnknownTypeError,
)


def test_primitive_mapping() -> None:
    t = msgconv.arrow_type("test_msgs/msg/BasicTypes")
    assert {f.name: f.type for f in t} == {
        "bool_value": pa.bool_(),
        "byte_value": pa.uint8(),
        "char_value": pa.uint8(),
        "float32_value": pa.float32(),
        "float64_value": pa.float64(),
        "int8_value": pa.int8(),
        "uint8_value": pa.uint8(),
        "int16_value": pa.int16(),
        "uint16_value": pa.uint16(),
        "int32_value": pa.int32(),
        "uint32_value": pa.uint32(),
        "int64_value": pa.int64(),
        "uint64_value": pa.uint64(),
    }


def test_array_string_and_nested_mapping() -> None:
    arrays = msgconv.arrow_type("test_msgs/Arrays")
    assert arrays.field("float64_values").type == pa.list_(pa.float64(), 3)
    assert arrays.field("string_values").type == pa.list_(pa.utf8(), 3)
    assert arrays.field("basic_types_values").type == pa.list_(
        msgconv.arrow_type("test_msgs/BasicTypes"), 3
    )
    bounded = msgconv.arrow_type("test_msgs/BoundedSequences")
    assert bounded.field("int32_values").type == pa.list_(pa.int32())
    assert msgconv.arrow_type("test_msgs/UnboundedSequences").field(
        "uint8_values"
    ).type == pa.list_(pa.uint8())
    assert msgconv.arrow_type("test_msgs/Strings").field("bounded_string_value").type == pa.utf8()
    assert msgconv.arrow_type("test_msgs/WStrings").field("wstring_value").type == pa.utf8()
    twist = msgconv.arrow_type("geometry_msgs/Twist")
    vector = pa.struct([(c, pa.float64()) for c in "xyz"])
    assert twist == pa.struct([("linear", vector), ("angular", vector)])
    assert msgconv.arrow_type("std_msgs/Empty") == pa.struct([])


def test_default_values() -> None:
    d = msgconv.default_value("test_msgs/Defaults")
    assert isinstance(d, pa.StructArray) and len(d) == 1
    assert d.type == msgconv.arrow_type("test_msgs/Defaults")
    assert d.to_pylist()[0] == {
        "bool_value": True,
        "byte_value": 50,
        "char_value": 100,
        "float32_value": 1.125,
        "float64_value": 1.125,
        "int8_value": -50,
        "uint8_value": 200,
        "int16_value": -1000,
        "uint16_value": 2000,
        "int32_value": -30000,
        "uint32_value": 60000,
        "int64_value": -40000000,
        "uint64_value": 50000000,
    }
    arrays = msgconv.default_value("test_msgs/Arrays").to_pylist()[0]
    assert arrays["int32_values_default"] == [0, 2147483647, -2147483648]
    assert arrays["string_values_default"] == ["", "max value", "min value"]
    assert arrays["int32_values"] == [0, 0, 0]
    assert arrays["basic_types_values"][0]["float64_value"] == 0.0
    assert (
        msgconv.default_value("test_msgs/UnboundedSequences").to_pylist()[0]["int32_values"] == []
    )
    strings = msgconv.default_value("test_msgs/Strings").to_pylist()[0]
    assert strings["string_value_default3"] == 'Hello"world!'


def test_constants_visible() -> None:
    assert msgconv.constants("test_msgs/Constants")["UINT64_CONST"] == 50000000
    assert msgconv.constants("test_msgs/Strings") == {"STRING_CONST": "Hello world!"}
    nav = msgconv.message_definition("sensor_msgs/NavSatStatus")
    assert nav.constants_dict["STATUS_FIX"] == 0 and nav.constants_dict["SERVICE_GPS"] == 1
    assert [c.type for c in nav.constants][:1] == ["int8"]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("geometry_msgs/Twist", "geometry_msgs/msg/Twist"),
        ("geometry_msgs/msg/Twist", "geometry_msgs/msg/Twist"),
        ("test_msgs/srv/BasicTypes_Request", "test_msgs/srv/BasicTypes_Request"),
        ("test_msgs/srv/BasicTypes_Response", "test_msgs/srv/BasicTypes_Response"),
        ("test_msgs/BasicTypes_Response", "test_msgs/srv/BasicTypes_Response"),
        ("test_msgs/action/Fibonacci_Goal", "test_msgs/action/Fibonacci_Goal"),
        ("test_msgs/action/Fibonacci_Result", "test_msgs/action/Fibonacci_Result"),
        ("test_msgs/action/Fibonacci_Feedback", "test_msgs/action/Fibonacci_Feedback"),
        ("test_msgs/Fibonacci_SendGoal_Request", "test_msgs/action/Fibonacci_SendGoal_Request"),
        (
            "test_msgs/action/Fibonacci_SendGoal_Response",
            "test_msgs/action/Fibonacci_SendGoal_Response",
        ),
        (
            "test_msgs/action/Fibonacci_GetResult_Request",
            "test_msgs/action/Fibonacci_GetResult_Request",
        ),
        (
            "test_msgs/action/Fibonacci_GetResult_Response",
            "test_msgs/action/Fibonacci_GetResult_Response",
        ),
        (
            "test_msgs/action/Fibonacci_FeedbackMessage",
            "test_msgs/action/Fibonacci_FeedbackMessage",
        ),
        ("test_msgs/srv/Empty_Event", "test_msgs/srv/Empty_Event"),
    ],
)
def test_type_name_forms(written: str, canonical: str) -> None:
    assert msgconv.message_definition(written).name == canonical
    assert msgconv.arrow_type(written) == msgconv.arrow_type(canonical)


def test_derived_action_types_have_ros_fields() -> None:
    goal = msgconv.arrow_type("test_msgs/action/Fibonacci_SendGoal_Request")
    assert goal.field("goal_id").type == pa.struct([("uuid", pa.list_(pa.uint8(), 16))])
    assert goal.field("goal").type == pa.struct([("order", pa.int32())])
    response = msgconv.arrow_type("test_msgs/action/Fibonacci_SendGoal_Response")
    assert response.field("accepted").type == pa.bool_()
    assert response.field("stamp").type == msgconv.arrow_type("builtin_interfaces/Time")
    result = msgconv.arrow_type("test_msgs/action/Fibonacci_GetResult_Response")
    assert [f.name for f in result] == ["status", "result"]
    assert result.field("status").type == pa.int8()


def test_ambiguous_name_resolves_by_context() -> None:
    # test_msgs has Arrays as a message and as a service.
    assert isinstance(msgconv.resolve("test_msgs/Arrays"), MessageDefinition)
    assert isinstance(msgconv.resolve("test_msgs/Arrays", "message_type"), MessageDefinition)
    srv = msgconv.resolve("test_msgs/Arrays", "service_type")
    assert isinstance(srv, ServiceDefinition) and srv.name == "test_msgs/srv/Arrays"
    assert "alignment_check" in msgconv.resolve("test_msgs/Arrays").field_names  # type: ignore[union-attr]
    assert "alignment_check" not in srv.request.field_names
    action = msgconv.resolve("test_msgs/Fibonacci", "action_type")
    assert isinstance(action, ActionDefinition) and action.goal.field_names == ("order",)
    with pytest.raises(UnknownTypeError, match="unknown context"):
        msgconv.resolve("test_msgs/Arrays", "topic")


def test_whole_service_is_not_a_message() -> None:
    with pytest.raises(
        UnknownTypeError,
        match=r"'test_msgs/srv/Arrays' is a service, not a message: use 'test_msgs/srv/Arrays_Request'",
    ):
        msgconv.arrow_type("test_msgs/srv/Arrays")


def test_messages_used_lists_dependencies_first() -> None:
    used = [d.name for d in TypeRegistry().messages_used("nav_msgs/Odometry")]
    assert used[-1] == "nav_msgs/msg/Odometry"
    assert used.index("builtin_interfaces/msg/Time") < used.index("std_msgs/msg/Header")
    assert used.index("geometry_msgs/msg/Point") < used.index("geometry_msgs/msg/Pose")


def test_arrow_field_names_the_ros_type() -> None:
    # a StructType has no name: the field's metadata says which ROS type the data is
    assert msgconv.arrow_type("geometry_msgs/Twist").__class__ is pa.StructType
    field = msgconv.arrow_field("geometry_msgs/Twist")
    assert isinstance(field, pa.Field)
    assert field.metadata == {b"ros2.type": b"geometry_msgs/msg/Twist"}
    assert field.type == msgconv.arrow_type("geometry_msgs/msg/Twist")
    assert field.name == "geometry_msgs/msg/Twist"
    named = msgconv.arrow_field("sensor_msgs/Image", name="camera")
    assert named.name == "camera" and named.metadata[b"ros2.type"] == b"sensor_msgs/msg/Image"
    schema = pa.schema([named])
    assert (
        schema.field("camera").metadata[msgconv.ROS_TYPE_KEY.encode()] == b"sensor_msgs/msg/Image"
    )
    with pytest.raises(msgconv.UnknownTypeError, match="did you mean"):
        msgconv.arrow_field("geometry_msgs/Twistt")
