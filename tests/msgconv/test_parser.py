"""The .msg/.srv/.action and IDL parsers: full grammar, defaults, constants, errors with file:line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from dora_ros.msgconv import DefinitionError, FieldType, TypeRegistry
from dora_ros.msgconv.idl_parser import parse_idl
from dora_ros.msgconv.msg_parser import parse_action, parse_message, parse_service


@pytest.fixture(scope="module")
def venv_share() -> Path:
    """Where the pip ROS 2 wheels put the interface files."""
    return Path(sys.prefix) / "share"


GRAMMAR = """\
# file comment
Header header            # std_msgs/msg/Header
bool flag true
byte b 7
char c 65
int8 i8 -8
uint64 big 18446744073709551615
float32 f 1.5e3
float64 d -0.25
string s "he said \\"hi\\""   # comment after a default
string<=5 bounded
string<=5[<=3] bounded_strings ["a", 'b,c']
float64[9] covariance
int32[] seq [1, 2, 3]
uint8[<=4] small [0x0f, 1]
geometry_msgs/Point[] points
Other same_pkg
uint8 RED=1
string GREETING = "a=b"   # a constant whose value holds '='
float64 PI=3.14159
bool YES=True
"""


def test_msg_grammar() -> None:
    d = parse_message(GRAMMAR, "my_pkg/msg/All", "All.msg")
    f = {x.name: x for x in d.fields}
    assert f["header"].type == FieldType("std_msgs/msg/Header")
    assert f["flag"].default is True and f["b"].default == 7 and f["c"].default == 65
    assert f["big"].default == 2**64 - 1 and f["f"].default == 1500.0 and f["d"].default == -0.25
    assert f["s"].default == 'he said "hi"'
    assert f["bounded"].type == FieldType("string", 5)
    assert f["bounded_strings"].type == FieldType("string", 5, "bounded", 3)
    assert f["bounded_strings"].default == ("a", "b,c")
    assert f["covariance"].type == FieldType("float64", None, "fixed", 9)
    assert str(f["covariance"].type) == "float64[9]"
    assert f["seq"].type == FieldType("int32", None, "sequence") and f["seq"].default == (1, 2, 3)
    assert f["small"].default == (15, 1)
    assert f["points"].type == FieldType("geometry_msgs/msg/Point", None, "sequence")
    assert f["same_pkg"].type.name == "my_pkg/msg/Other"
    assert d.constants_dict == {"RED": 1, "GREETING": "a=b", "PI": 3.14159, "YES": True}
    assert [c.type for c in d.constants] == ["uint8", "string", "float64", "bool"]


def test_string_defaults_of_test_msgs(venv_share: Path) -> None:
    d = parse_message(
        (venv_share / "test_msgs/msg/Strings.msg").read_text(), "test_msgs/msg/Strings"
    )
    defaults = {x.name: x.default for x in d.fields}
    assert defaults["string_value_default2"] == "Hello'world!"
    assert defaults["string_value_default3"] == 'Hello"world!'
    assert defaults["string_value_default4"] == "Hello'world!"
    assert defaults["string_value_default5"] == 'Hello"world!'
    assert d.constants_dict == {"STRING_CONST": "Hello world!"}


def test_service_and_action_split() -> None:
    srv = parse_service("int64 a\nint64 b\n---\nint64 sum\n", "ex/srv/Add")
    assert srv.request.name == "ex/srv/Add_Request" and srv.request.field_names == ("a", "b")
    assert srv.response.field_names == ("sum",)
    act = parse_action("int32 order\n---\nint32[] seq\n---\nint32[] partial\n", "ex/action/Fib")
    assert act.goal.name == "ex/action/Fib_Goal"
    assert act.send_goal_request.field_names == ("goal_id", "goal")
    assert act.send_goal_request.fields[0].type.name == "unique_identifier_msgs/msg/UUID"
    assert act.send_goal_request.fields[1].type.name == "ex/action/Fib_Goal"
    assert [(f.name, f.type.name) for f in act.send_goal_response.fields] == [
        ("accepted", "bool"),
        ("stamp", "builtin_interfaces/msg/Time"),
    ]
    assert act.get_result_request.field_names == ("goal_id",)
    assert [(f.name, f.type.name) for f in act.get_result_response.fields] == [
        ("status", "int8"),
        ("result", "ex/action/Fib_Result"),
    ]
    assert act.feedback_message.field_names == ("goal_id", "feedback")
    assert act.feedback_message.fields[1].type.name == "ex/action/Fib_Feedback"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("int32 a\nfloat65 b\n", "Bad.msg:2: 'float65"),
        ("int32 Bad\n", "Bad.msg:1: 'Bad' is not a field name"),
        ("int32 a\nint32 a\n", "Bad.msg:2: field 'a' appears twice"),
        ("uint8 a 300\n", "Bad.msg:1: default of 'a': 300 does not fit uint8"),
        ("int32[3] a [1, 2]\n", "Bad.msg:1: default of 'a': needs exactly 3 elements"),
        ("uint8 lower=3\n", "Bad.msg:1: 'lower' is not a constant name"),
        ("int32[] X=[1]\n", "Bad.msg:1: constant 'X' must have a primitive type"),
        ("int32\n", "Bad.msg:1: 'int32' needs a type and a name"),
        ("int32<=3 a\n", "only strings take a bound"),
        ("geometry_msgs/Point p 1\n", "nested message field cannot have a default"),
        # what rosidl_adapter refuses (issue 11)
        ("int32 a\nint32[0] b\n", "Bad.msg:2: 'int32[0]': a fixed array size must be greater"),
        ("int32[<=0] b\n", "Bad.msg:1: 'int32[<=0]': an array bound must be greater than zero"),
        ("string<=0 s\n", "Bad.msg:1: 'string<=0': a string bound must be greater than zero"),
        ("string<=0[2] s\n", "Bad.msg:1: 'string<=0[2]': a string bound must be greater"),
        ("int32 A=1\nint32 A=2\n", "Bad.msg:2: constant 'A' appears twice"),
        ("int32 A__B=1\n", "Bad.msg:1: 'A__B' is not a constant name"),
        ("int32 A_=1\n", "Bad.msg:1: 'A_' is not a constant name"),
        ("int32 _A=1\n", "Bad.msg:1: '_A' is not a constant name"),
    ],
)
def test_msg_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        parse_message(text, "p/msg/Bad", "Bad.msg")
    assert message in str(err.value)


def test_srv_needs_two_parts() -> None:
    with pytest.raises(DefinitionError, match="a service has 2 parts separated by '---', found 1"):
        parse_service("int32 a\n", "p/srv/S", "S.srv")


IDL = """\
// a comment
/* a block
   comment */
#include "other_pkg/msg/Thing.idl"
module my_pkg {
  module msg {
    typedef double double__9[9];
    typedef other_pkg::msg::Thing other_pkg__msg__Thing;
    typedef other_pkg__msg__Thing things__2[2];
    module Sample_Constants {
      const long ANSWER = 42;
      const string NAME = "x" "y";
      const boolean ON = TRUE;
      const double NEG = -1.5;
    };
    @verbatim (language="comment", text=
      "A documented" "\\n" "struct")
    struct Sample {
      @key long id;
      @key @unit (value="m") unsigned long long big;
      short s1, s2;
      unsigned short us;
      long long ll;
      octet raw;
      char letter;
      boolean flag;
      float f;
      @default (value=2.5)
      double d;
      @default (value="(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)")
      double__9 cov;
      long fixed[4];
      sequence<int32> unbounded;
      sequence<uint8, 16> bounded;
      string<10> name;
      @default (value="hi \\"there\\"")
      string greeting;
      wstring w;
      sequence<string<4>, 2> names;
      things__2 two_things;
      other_pkg::msg::Thing thing;
      Other same_module;
    };
    struct Empty {
      uint8 structure_needs_at_least_one_member;
    };
  };
};
"""


def test_idl_grammar() -> None:
    structs = parse_idl(IDL, "Sample.idl")
    assert set(structs) == {"my_pkg/msg/Sample", "my_pkg/msg/Empty"}
    d = structs["my_pkg/msg/Sample"]
    t = {f.name: f.type for f in d.fields}
    assert d.keys == ("id", "big")
    assert t["id"] == FieldType("int32") and t["big"] == FieldType("uint64")
    assert t["s1"] == t["s2"] == FieldType("int16") and t["us"] == FieldType("uint16")
    assert t["ll"] == FieldType("int64") and t["raw"] == FieldType("byte")
    assert t["letter"] == FieldType("char") and t["flag"] == FieldType("bool")
    assert t["f"] == FieldType("float32") and t["d"] == FieldType("float64")
    assert t["cov"] == FieldType("float64", None, "fixed", 9)
    assert t["fixed"] == FieldType("int32", None, "fixed", 4)
    assert t["unbounded"] == FieldType("int32", None, "sequence")
    assert t["bounded"] == FieldType("uint8", None, "bounded", 16)
    assert t["name"] == FieldType("string", 10) and t["w"] == FieldType("wstring")
    assert t["names"] == FieldType("string", 4, "bounded", 2)
    assert t["two_things"] == FieldType("other_pkg/msg/Thing", None, "fixed", 2)
    assert t["thing"] == FieldType("other_pkg/msg/Thing")
    assert t["same_module"] == FieldType("my_pkg/msg/Other")
    defaults = {f.name: f.default for f in d.fields}
    assert defaults["d"] == 2.5 and defaults["cov"] == tuple(float(i) for i in range(1, 10))
    assert defaults["greeting"] == 'hi "there"'
    assert d.constants_dict == {"ANSWER": 42, "NAME": "xy", "ON": True, "NEG": -1.5}
    assert structs["my_pkg/msg/Empty"].fields == ()


def test_idl_errors_name_file_and_line() -> None:
    with pytest.raises(DefinitionError, match=r"Bad.idl:3: expected ';'"):
        parse_idl("module p {\n module msg {\n struct S { long a }; };\n};\n", "Bad.idl")
    with pytest.raises(DefinitionError, match=r"Bad.idl:1: unsupported IDL construct 'union'"):
        parse_idl("union X switch (long) { case 1: long a; };", "Bad.idl")


def test_msg_accepts_what_rosidl_accepts() -> None:
    d = parse_message(
        "int32 A_1=1\nint32 B2C_D=2\nint32[1] a\nint32[<=1] b\nstring<=1 c\n", "p/msg/Ok"
    )
    assert d.constants_dict == {"A_1": 1, "B2C_D": 2}
    assert [f.type.length for f in d.fields] == [1, 1, None]


def test_idl_literals_read_as_rosidl_grammar_reads_them() -> None:
    # hex, octal (a leading 0), `1.`, `.5`, exponents, fixed point `d`, wide strings and chars
    idl = (
        "module p { module msg {\n"
        "module S_Constants {\n"
        "  const int32 HEX = 0x1F;\n"
        "  const int32 OCT = 017;\n"
        "  const int32 ZERO = 0;\n"
        "  const int32 NEG = -0x10;\n"
        "  const double DOT = 1.;\n"
        "  const double HALF = .5;\n"
        "  const double EXP = 1e3;\n"
        "  const double FIXED = 1.5d;\n"
        '  const wstring WIDE = L"wide";\n'
        "};\n"
        "struct S {\n"
        "  @default (value=0x10) int32 a;\n"
        "  @default (value=010) int32 b;\n"
        "  @default (value=2.) double c;\n"
        '  @default (value=L"x") wstring w;\n'
        "};\n"
        "}; };\n"
    )
    d = parse_idl(idl, "S.idl")["p/msg/S"]
    assert d.constants_dict == {
        "HEX": 31,
        "OCT": 15,
        "ZERO": 0,
        "NEG": -16,
        "DOT": 1.0,
        "HALF": 0.5,
        "EXP": 1000.0,
        "FIXED": 1.5,
        "WIDE": "wide",
    }
    assert [f.default for f in d.fields] == [16, 8, 2.0, "x"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("module S_Constants {\n const int32 O = 08;\n};", "B.idl:3: '08' is not an IDL integer"),
        (
            'struct S {\n @default (value="(1, 2)") int32 a[3];\n};',
            "B.idl:3: @default of an int32[3] needs exactly 3 elements, got 2",
        ),
        (
            'struct S {\n @default (value="(1, 2, 3)") sequence<int32, 2> a;\n};',
            "B.idl:3: @default has 3 elements, more than the bound 2",
        ),
        ("struct S {\n @default (value=1.5) int32 a;\n};", "B.idl:3: @default: 1.5 is not an"),
        ("struct S {\n @default (value=300) uint8 a;\n};", "B.idl:3: @default: 300 does not fit"),
    ],
)
def test_idl_value_errors_name_file_and_line(body: str, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        parse_idl("module p { module msg {\n" + body + "\n}; };\n", "B.idl")
    assert message in str(err.value)


def _normalized(fields: tuple) -> tuple:
    # rosidl writes a .msg `char` as IDL `uint8`; everything else must match exactly.
    return tuple(
        dataclasses.replace(f, type=dataclasses.replace(f.type, name="uint8"))
        if f.type.name == "char"
        else f
        for f in fields
    )


def test_idl_of_every_installed_type_matches_its_msg(venv_share: Path) -> None:
    registry = TypeRegistry()
    checked = 0
    for path in sorted(venv_share.glob("*/*/*.idl")):
        pkg, kind, base = path.parts[-3], path.parts[-2], path.stem
        name = f"{pkg}/{kind}/{base}"
        structs = parse_idl(path.read_text(), str(path))
        d = registry.resolve(name)
        parts = (
            [d]
            if kind == "msg"
            else [*(d.request, d.response)]
            if kind == "srv"
            else [d.goal, d.result, d.feedback]
        )  # type: ignore[union-attr]
        for want in parts:
            if want.source and want.source.endswith(".idl"):
                continue
            got = structs[want.name]
            assert _normalized(got.fields) == _normalized(want.fields), want.name
            assert {c.name: c.value for c in got.constants} == want.constants_dict, want.name
            checked += 1
    assert checked > 150


def test_idl_only_types_resolve() -> None:
    registry = TypeRegistry()
    keyed = registry.message("test_msgs/msg/KeyedLong")
    assert keyed.keys == ("key",) and keyed.source and keyed.source.endswith("KeyedLong.idl")
    nested = registry.message("test_msgs/ComplexNestedKey")
    assert nested.keys == ("uint32_key", "nested_keys")
    assert nested.field("nested_keys").type.name == "test_msgs/msg/NonKeyedWithNestedKey"
