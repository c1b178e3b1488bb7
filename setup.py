"""The optional C reader of Arrow rows (everything else is in pyproject.toml).

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
        )
    ]
)
