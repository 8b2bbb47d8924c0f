# wrok: make setup | test | demo | bench | lint | package | aws-validate
# Every target installs what it needs (QGIS from Debian, then a pinned venv).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test test-core demo bench lint package aws-validate clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if ! command -v qgis_process.bin >/dev/null || ! /usr/bin/python3 -c 'import qgis.core' 2>/dev/null; then \
	  echo "installing QGIS 3.22 from Debian (a few minutes)"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    qgis python3-qgis qgis-providers python3-venv python3-pip xvfb xauth zip unzip >/dev/null; \
	fi
	@# The tests start their own PostgreSQL 15 + PostGIS 3.3 server (tests/pg_server.py); psycopg2 talks to it.
	@if [ ! -x /usr/lib/postgresql/15/bin/initdb ] || [ ! -f /usr/share/postgresql/15/extension/postgis.control ] || \
	    ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null; then \
	  echo "installing PostgreSQL 15 + PostGIS 3.3 and psycopg2 from Debian"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    postgresql-15-postgis-3 postgresql-client-15 python3-psycopg2 >/dev/null; \
	fi
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -c 'import numpy, osgeo.gdal_array; assert numpy.__version__ < "2", numpy.__version__'
	touch $@

# CI's Hypothesis profile: the same examples every run (tests/conftest.py).
test: setup
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q tests

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

# The Plugin Manager zip: the plugin with the engine core/ and metadata.txt dereferenced, its icon, and the
# AWS pipeline's client modules (vendor/aws).
package:
	rm -rf dist/build dist/wrok_plugin.zip && mkdir -p dist/build
	cp -rL wrok_plugin dist/build/wrok_plugin
	# The AWS submit algorithm's client only (no template, Dockerfile or Lambda handler), with its
	# `from core...` imports pointed at the plugin's own engine (wrok_plugin/aws_client.py explains).
	mkdir -p dist/build/wrok_plugin/vendor/aws
	echo '"""Client-side modules of aws/, copied by make package."""' > dist/build/wrok_plugin/vendor/__init__.py
	for module in __init__ client kickoff merge split storage overrides; do \
	  sed -E 's/^([[:space:]]*)from core([. ])/\1from ...core\2/' aws/$$module.py \
	    > dist/build/wrok_plugin/vendor/aws/$$module.py || exit 1; done
	@if grep -nE '^[[:space:]]*(import core|from core[. ])' dist/build/wrok_plugin/vendor/aws/*.py; then \
	  echo "the vendored AWS client still imports the top-level core package" >&2; exit 1; fi
	mkdir -p dist/build/wrok_plugin/resources && cp resources/wrok.svg dist/build/wrok_plugin/resources/
	find dist/build -name __pycache__ -prune -exec rm -rf {} + ; find dist/build -name '*.pyc' -delete
	cd dist/build && /usr/bin/python3 -m zipfile -c ../wrok_plugin.zip wrok_plugin
	rm -rf dist/build
	@echo "built dist/wrok_plugin.zip"

bench: setup
	$(PY) tests/benchmarks/bench.py

lint: setup
	$(PY) -m ruff check core wrok_plugin aws tests

# Offline lint of the AWS template and state machine (cfn-lint, sam validate --lint, ASL checks).
aws-validate: setup
	@$(PY) -c 'import cfnlint, moto, boto3' 2>/dev/null || \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements-aws.txt
	$(PY) -m aws.validate

clean:
	rm -rf $(VENV) demo_output dist
