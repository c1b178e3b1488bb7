"""A plain cyclonedds-python application for test_user_msg_package.py: no dora-ros, no ROS.

It declares `my_robot_msgs::msg::dds_::Status_` by hand (as rosidl would generate it), takes samples
from `in` with cyclonedds-python's own deserializer, prints them, and publishes a sample built from
what it read (name upper-cased, level + 1) with cyclonedds-python's own serializer on `out`.
So it checks, independently of dora-ros, that the bridge's DDS type matches (XTypes) and its bytes
are the CDR of that type.
"""

# No `from __future__ import annotations`: cyclonedds-python evaluates the field annotations.

import json
import os
import sys
import time
from dataclasses import dataclass

from cyclonedds.domain import Domain, DomainParticipant
from cyclonedds.idl import IdlStruct
from cyclonedds.idl.types import (
    array,
    bounded_str,
    float32,
    float64,
    int32,
    sequence,
    uint8,
    uint32,
)
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic


@dataclass
class Time_(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Battery_(IdlStruct, typename="my_robot_msgs::msg::dds_::Battery_"):
    voltage: float32
    charging: bool


@dataclass
class Status_(IdlStruct, typename="my_robot_msgs::msg::dds_::Status_"):
    name: bounded_str[32]
    level: uint8
    position: array[float64, 3]
    codes: sequence[int32]
    battery: Battery_
    stamp: Time_


def main() -> None:
    cfg = json.loads(sys.argv[1])
    domain_id = int(os.environ["ROS_DOMAIN_ID"])
    xml = (
        '<CycloneDDS><Domain id="any"><General><Interfaces><NetworkInterface address="127.0.0.1"/>'
        "</Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery>"
        "<ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>32</MaxAutoParticipantIndex>"
        '<Peers><Peer address="127.0.0.1"/></Peers></Discovery></Domain></CycloneDDS>'
    )
    domain = Domain(domain_id, xml)
    participant = DomainParticipant(domain_id)
    qos = Qos(Policy.Reliability.Reliable(10**8), Policy.History.KeepLast(10))
    reader = DataReader(participant, Topic(participant, "rt" + cfg["in"], Status_), qos=qos)
    writer = DataWriter(participant, Topic(participant, "rt" + cfg["out"], Status_), qos=qos)
    print(json.dumps({"event": "ready"}), flush=True)
    while domain is not None:
        for sample in reader.take(N=10):
            print(
                json.dumps(
                    {
                        "event": "recv",
                        "value": {
                            "name": sample.name,
                            "level": sample.level,
                            "position": list(sample.position),
                            "codes": list(sample.codes),
                            "battery": {
                                "voltage": sample.battery.voltage,
                                "charging": sample.battery.charging,
                            },
                            "stamp": {"sec": sample.stamp.sec, "nanosec": sample.stamp.nanosec},
                        },
                    }
                ),
                flush=True,
            )
            sample.name = sample.name.upper()
            sample.level += 1
            writer.write(sample)
        time.sleep(0.02)


if __name__ == "__main__":
    main()
