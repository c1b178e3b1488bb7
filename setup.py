"""The optional C extensions: the reader of Arrow rows and send_output_raw's SampleBuffer
(everything else is in pyproject.toml).

`optional=True`: without a C compiler the install still succeeds and msgconv reads Arrow values
with pyarrow instead (same results, slower; see dora_ros/msgconv/_arrow_native.c).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "dora_ros.msgconv._arrow_native",
            ["dora_ros/msgconv/_arrow_native.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
        # dora-rs's SampleBuffer for send_output_raw (dora_ros/runtime/sample.py has a fallback).
        Extension(
            "dora_ros.runtime._sample_buffer",
            ["dora_ros/runtime/_sample_buffer.c"],
            optional=True,
            extra_compile_args=["-O2"],
        ),
    ]
)
