# wrok: make setup | test | demo | bench | lint | package | aws-validate
# Every target installs what it needs (QGIS from Debian, then a pinned venv).
SHELL := /bin/bash
VENV := .venv
# Defined before `test`, whose prerequisites are expanded as the file is read.
DEBIAN_VENV := .venv-debian
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test test-core test-debian-versions screenshots bench-qgis-process bench-cancel demo bench lint package aws-validate clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if ! command -v qgis_process.bin >/dev/null || ! /usr/bin/python3 -c 'import qgis.core' 2>/dev/null; then \
	  echo "installing QGIS 3.22 from Debian (a few minutes)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    qgis python3-qgis qgis-providers python3-venv python3-pip xvfb xauth zip unzip >/dev/null; \
	fi
	@# The tests start their own PostgreSQL 15 + PostGIS 3.3 server (tests/pg_server.py); psycopg2 talks to it,
	@# ogr2ogr (Debian GDAL's PostgreSQL driver) loads tables into it as users do.
	@if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -f /usr/share/postgresql/15/extension/postgis.control ] || \
	    ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || ! command -v ogr2ogr >/dev/null; then \
	  echo "installing PostgreSQL 15 + PostGIS 3.3 and psycopg2 from Debian"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql-15-postgis-3 postgresql-client-15 python3-psycopg2 gdal-bin >/dev/null; \
	fi
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -c 'import numpy, osgeo.gdal_array; assert numpy.__version__ < "2", numpy.__version__'
	touch $@

# The engine on the oldest versions we support: Debian 12's own python3-numpy 1.24, python3-sklearn 1.2,
# python3-optuna 3.1 and python3-scipy, in a venv that gets no pip packages at all.
DEBIAN_PACKAGES := python3-numpy python3-scipy python3-sklearn python3-optuna python3-pandas python3-shapely \
  python3-hypothesis python3-pytest

# CI's Hypothesis profile: the same examples every run (tests/conftest.py).
test: setup $(DEBIAN_VENV)/.installed
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q tests
	$(MAKE) -s test-debian-versions

$(DEBIAN_VENV)/.installed:
	@dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; }
	/usr/bin/python3 -m venv --system-site-packages $(DEBIAN_VENV)
	touch $@

test-debian-versions: $(DEBIAN_VENV)/.installed
	$(DEBIAN_VENV)/bin/python -c 'import numpy, sklearn, optuna; \
	  v = (numpy.__version__[:4], sklearn.__version__[:3], optuna.__version__[:3]); \
	  assert v == ("1.24", "1.2", "3.1"), v; print("engine on Debian 12 versions: numpy %s, scikit-learn %s, Optuna %s" % v)'
	$(DEBIAN_VENV)/bin/python -m pytest -q -o addopts="-p no:cacheprovider" \
	  tests/core/test_engine_on_system_versions.py

# The README's desktop screenshot, from the real QGIS desktop smoke test.
screenshots: setup
	WROK_SCREENSHOT_DIR=$(CURDIR)/resources/screenshots $(PY) -m pytest -q tests/desktop

test-core: setup
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q tests/core

# The main job: the plugin's algorithm through the real qgis_process on the shipped demo population,
# then a QGIS-rendered map and the summary. A throwaway profile keeps ~/.local/share/QGIS untouched.
QGIS_PROCESS_ENV = QGIS_PLUGINPATH=$(CURDIR) PYTHONPATH=$(firstword $(wildcard $(CURDIR)/$(VENV)/lib/python3*/site-packages))
demo: setup
	rm -rf demo_output && mkdir -p demo_output
	profile=$$(mktemp -d) && export QGIS_CUSTOM_CONFIG_PATH=$$profile $(QGIS_PROCESS_ENV) && \
	  qgis_process.bin plugins enable wrok_plugin >/dev/null 2>&1 && \
	  qgis_process.bin --json run wrok:tunedclustering -- INPUT=resources/demo_population.gpkg \
	    WEIGHT_FIELD=population TARGET_WEIGHT=240 TARGET_RADIUS=1000 MAX_WEIGHT=300 \
	    OUTPUT=demo_output/clustered.gpkg CLUSTERS=demo_output/clusters.gpkg \
	    > demo_output/run.json 2> demo_output/run.log; status=$$?; rm -rf $$profile; \
	  if [ $$status != 0 ]; then tail -20 demo_output/run.log; exit $$status; fi
	$(PY) tests/plugin/demo_map.py demo_output/clustered.gpkg demo_output/clusters.gpkg \
	  demo_output/clusters.png demo_output/run.json

# The Plugin Manager zip: the plugin, its icon, and in vendor/ the engine core/ and the AWS pipeline's client
# modules, unchanged: wrok_plugin/engine_path.py puts vendor/ on sys.path so they import as `core` and `aws`,
# exactly as in a checkout and in the Lambda.
package:
	rm -rf dist/build dist/wrok_plugin.zip && mkdir -p dist/build/wrok_plugin/vendor/aws
	cp -r wrok_plugin/. dist/build/wrok_plugin/
	cp -r core dist/build/wrok_plugin/vendor/core
	for module in __init__ client kickoff merge split storage overrides; do \
	  cp aws/$$module.py dist/build/wrok_plugin/vendor/aws/ || exit 1; done
	mkdir -p dist/build/wrok_plugin/resources && cp resources/wrok.svg dist/build/wrok_plugin/resources/
	find dist/build -name __pycache__ -prune -exec rm -rf {} + ; find dist/build -name '*.pyc' -delete
	cd dist/build && /usr/bin/python3 -m zipfile -c ../wrok_plugin.zip wrok_plugin
	rm -rf dist/build
	@echo "built dist/wrok_plugin.zip"

# qgis_process against the CLI on 1M points (time and peak memory; the plugin's target is 1.5x).
bench-qgis-process: setup
	cd tests/benchmarks && PYTHONPATH=$(CURDIR) ../../$(PY) bench_qgis_process.py

# How fast a cancel stops a seed run on the shared grids (target: 1 s).
bench-cancel: setup
	cd tests/benchmarks && PYTHONPATH=$(CURDIR) ../../$(PY) bench_cancel.py

# Every speed and memory target, each script printing its own side-by-side table (about 25 minutes):
# the engine against the original and QGIS's k-means (issue 7's table) first, then the data paths.
# A script whose targets fail exits 1; the others still run, and make reports the failure at the end.
BENCH_SCRIPTS := bench.py bench_scale.py bench_frame.py bench_h3.py bench_postgis.py bench_qgis_process.py bench_cancel.py \
  bench_aws_stream.py
bench: setup
	@status=0; for script in $(BENCH_SCRIPTS); do \
	  echo "== $$script"; (cd tests/benchmarks && PYTHONPATH=$(CURDIR) ../../$(PY) $$script) || status=1; \
	done; exit $$status

lint: setup
	$(PY) -m ruff check core wrok_plugin aws tests

# Offline lint of the AWS template and state machine (cfn-lint, sam validate --lint, ASL checks).
aws-validate: setup
	@$(PY) -c 'import cfnlint, moto, boto3' 2>/dev/null || \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements-aws.txt
	$(PY) -m aws.validate

clean:
	rm -rf $(VENV) demo_output dist
