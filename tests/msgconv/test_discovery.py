"""Finding interface files: ament index prefixes, the interpreter prefix, user folders never built."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dora_ros.msgconv import TypeRegistry, UnknownTypeError
from dora_ros.msgconv.discovery import default_roots


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMENT_PREFIX_PATH", raising=False)
    monkeypatch.delenv("DORA_ROS_MSG_PATH", raising=False)


def _user_package(root: Path, folder: str = "robot_msgs", name: str | None = None) -> Path:
    pkg = root / folder
    pkg_name = name or folder
    if name:
        _write(pkg / "package.xml", f"<package format='3'>\n  <name>{name}</name>\n</package>\n")
    _write(pkg / "msg" / "Wheel.msg", 'float64 speed\nstring<=8 label "left"\n')
    _write(
        pkg / "msg" / "Status.msg",
        f"uint8 OK=0\nHeader header\nWheel[2] wheels\n{pkg_name}/Wheel spare\ngeometry_msgs/Point where\n",
    )
    _write(pkg / "srv" / "Reset.srv", "bool hard\n---\nbool done\nstring message\n")
    _write(pkg / "action" / "Drive.action", "float64 distance\n---\nbool ok\n---\nfloat64 left\n")
    _write(
        pkg / "msg" / "Keyed.idl",
        f"module {pkg_name} {{ module msg {{ struct Keyed {{ @key long id; double v; }}; }}; }};\n",
    )
    return pkg


def test_interpreter_prefix_is_searched_without_any_env(clean_env: None) -> None:
    assert default_roots() == [Path(sys.prefix)]
    registry = TypeRegistry()
    assert registry.message("std_msgs/String").source == str(
        Path(sys.prefix) / "share/std_msgs/msg/String.msg"
    )


def test_folder_of_user_packages_by_argument(clean_env: None, tmp_path: Path) -> None:
    _user_package(tmp_path / "src")
    registry = TypeRegistry([tmp_path / "src"])
    status = registry.message("robot_msgs/Status")
    assert status.constants_dict == {"OK": 0}
    assert [f.type.name for f in status.fields] == [
        "std_msgs/msg/Header",
        "robot_msgs/msg/Wheel",
        "robot_msgs/msg/Wheel",
        "geometry_msgs/msg/Point",
    ]
    arrow = registry.arrow_type("robot_msgs/msg/Status")
    assert arrow.field("wheels").type.list_size == 2
    codec = registry.codec("robot_msgs/Status")
    blob = codec.encode({"wheels": [{"speed": 1.5}, {"label": "right"}], "where": {"z": 2.0}})
    row = codec.decode(blob).to_pylist()[0]
    assert row["wheels"] == [{"speed": 1.5, "label": "left"}, {"speed": 0.0, "label": "right"}]
    assert row["where"] == {"x": 0.0, "y": 0.0, "z": 2.0}
    assert registry.message("robot_msgs/srv/Reset_Response").field_names == ("done", "message")
    assert registry.message("robot_msgs/Drive_SendGoal_Request").field_names == ("goal_id", "goal")
    assert registry.message("robot_msgs/msg/Keyed").keys == ("id",)
    assert "robot_msgs/srv/Reset" in registry.interfaces()


def test_package_folder_named_by_package_xml(clean_env: None, tmp_path: Path) -> None:
    pkg = _user_package(tmp_path, folder="checkout-dir", name="fleet_msgs")
    registry = TypeRegistry([pkg])
    assert registry.message("fleet_msgs/Status").field("spare").type.name == "fleet_msgs/msg/Wheel"
    with pytest.raises(UnknownTypeError):
        registry.message("checkout-dir/Status")


def test_dora_ros_msg_path_and_ament_prefix_path(
    clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_package(tmp_path / "a")
    prefix = tmp_path / "install"
    _write(prefix / "share/prefix_msgs/msg/Thing.msg", "int32 n\n")
    _write(
        prefix / "share/ament_index/resource_index/rosidl_interfaces/prefix_msgs", "msg/Thing.msg\n"
    )
    monkeypatch.setenv("DORA_ROS_MSG_PATH", str(tmp_path / "a"))
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(prefix))
    registry = TypeRegistry()
    assert registry.message("robot_msgs/Wheel").field_names == ("speed", "label")
    assert registry.message("prefix_msgs/Thing").field_names == ("n",)
    assert registry.message("std_msgs/String").field_names == ("data",)  # still the interpreter's
    assert registry.index.roots[:3] == (tmp_path / "a", prefix, Path(sys.prefix))


def test_user_folder_shadows_installed_package(clean_env: None, tmp_path: Path) -> None:
    _write(tmp_path / "std_msgs/msg/String.msg", "int32 data\n")
    registry = TypeRegistry([tmp_path])
    assert str(registry.message("std_msgs/String").field("data").type) == "int32"
    # a nested type the user's copy does not define still comes from the installed package
    assert registry.message("std_msgs/Header").field_names == ("stamp", "frame_id")


def test_add_search_path_after_a_miss(clean_env: None, tmp_path: Path) -> None:
    registry = TypeRegistry()
    with pytest.raises(UnknownTypeError, match="no interface package 'robot_msgs' found"):
        registry.message("robot_msgs/Wheel")
    _user_package(tmp_path)
    registry.add_search_path(tmp_path)
    assert registry.message("robot_msgs/Wheel").field("label").default == "left"


def test_add_definition_from_text(clean_env: None) -> None:
    registry = TypeRegistry()
    registry.add_definition("demo_msgs/msg/Pair", "int32 a\nint32 b 7\n")
    codec = registry.codec("demo_msgs/Pair")
    assert codec.decode(codec.encode({"a": 1})).to_pylist() == [{"a": 1, "b": 7}]
