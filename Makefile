# `make demo` and `make test` each set everything up on a fresh machine (a .venv here) and run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A second venv with ROS 2 Jazzy wheels, for the Jazzy peers of tests/bridge/test_jazzy.py.
JAZZY_VENV := .venv-jazzy
JAZZY_STAMP := $(JAZZY_VENV)/.installed
# pytest-xdist workers: most tests wait on processes and DDS discovery, not on the CPU,
# so more workers than the 2 cores of our machines pay off.
WORKERS ?= 4

.PHONY: demo test bench soak lint clean fuzz

$(STAMP): pyproject.toml setup.py dora_ros/msgconv/_arrow_native.c dora_ros/runtime/_sample_buffer.c Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[ros,test,bench]'
	# dora-rs node-hub packages, used to show that nodes written for dora-rs run unchanged.
	# They pin numpy<2, which would break pyarrow 26: install them without their dependencies.
	$(PY) -m pip install -q --no-deps pyarrow-sender==0.5.0 dora-echo==0.5.0 pyarrow-assert==0.5.0
	touch $(STAMP)

$(JAZZY_STAMP): tests/bridge/jazzy/requirements.txt
	@echo "building $(JAZZY_VENV): ROS 2 Jazzy wheels for the Jazzy peers of tests/bridge/test_jazzy.py (once)"
	test -x $(JAZZY_VENV)/bin/python || $(PYTHON) -m venv $(JAZZY_VENV)
	$(JAZZY_VENV)/bin/python -m pip install -q -r tests/bridge/jazzy/requirements.txt
	touch $(JAZZY_STAMP)

demo: $(STAMP)
	$(PY) examples/ros2/run_demo.py

test: $(STAMP) $(JAZZY_STAMP)
	# msgconv's C helpers are compiled for aarch64 too (tests/msgconv/test_portable.py)
	command -v aarch64-linux-gnu-gcc >/dev/null || \
		(apt-get update && apt-get install -y gcc-aarch64-linux-gnu)
	# `dora-ros graph` pages are checked in a real headless browser (tests/tools), driven by
	# selenium; Debian's packages, since nothing may download a browser build of its own here
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && apt-get install -y chromium chromium-driver)
	# tests/cluster/test_tls.py makes its certificates with openssl (it never skips)
	command -v openssl >/dev/null || (apt-get update && apt-get install -y openssl)
	# Passes of their own for the tests that time DDS discovery and ROS peers (bridge, cluster,
	# launch) and for those that time live dataflows through taps (tools), apart from the
	# CPU-bound ones (msgconv's random definitions, the soak's 8 MiB bursts) and from each other:
	# sharing the 2 cores, CI saw goals and feedback miss their timeouts and a tap attach late.
	DORA_ROS_REQUIRE_AARCH64=1 $(PY) -m pytest -n $(WORKERS) tests \
		--ignore=tests/bridge --ignore=tests/cluster --ignore=tests/launch --ignore=tests/tools \
		--deselect tests/runtime/test_soak.py::test_one_minute_soak_is_flat
	# two workers here, not four: each test runs several processes (peers, daemons, nodes), and
	# four at once made DDS bursts and cross-machine queues miss their marks in CI's runs; the
	# cluster's tests (whole machines of daemons and nodes, some flooding links) in a pass of
	# their own, apart from the DDS tests
	$(PY) -m pytest -n 2 tests/bridge tests/launch
	$(PY) -m pytest -n 2 tests/cluster
	$(PY) -m pytest -n $(WORKERS) tests/tools
	$(PY) -m pytest tests/runtime/test_soak.py
	# msgconv once more on its Python paths, as on a machine where the C helpers were not built
	DORA_ROS_NO_NATIVE=1 $(PY) -m pytest -n $(WORKERS) -q tests/msgconv

# msgconv's random-definition differential (fast, reference, rosbags) on a fresh seed for
# FUZZ_SECONDS; a failure prints its seed, replayed with DORA_ROS_FUZZ_SEED=<seed>.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	DORA_ROS_FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest -q -s --timeout=0 \
		tests/msgconv/test_random_definitions.py::test_random_definitions_fresh_seed

# Every benchmark but the hour-long soak (`make soak`; `make test` runs it for a minute) and the
# launch-file study, which needs a corpus of fetched repositories (docs/launch.md, Real launch files).
bench: $(STAMP)
	for b in benchmarks/*.py; do case $$b in benchmarks/soak.py|benchmarks/launch_corpus.py) ;; \
	  *) $(PY) $$b || exit 1;; esac; done

soak: $(STAMP)
	$(PY) benchmarks/soak.py --minutes 60 --out soak-out

lint: $(STAMP)
	$(VENV)/bin/ruff check dora_ros tests benchmarks examples
	$(VENV)/bin/ruff format --check dora_ros tests benchmarks examples
	$(VENV)/bin/mypy dora_ros

clean:
	rm -rf $(VENV) $(JAZZY_VENV) out build *.egg-info
