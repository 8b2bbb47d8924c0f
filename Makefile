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
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@$(PY) -c 'import numpy, osgeo.gdal_array; assert numpy.__version__ < "2", numpy.__version__'
	touch $@

test: setup
	$(PY) -m pytest -q tests

test-core: setup
	$(PY) -m pytest -q tests/core

demo: setup
	$(PY) -m core cluster resources/demo_population.gpkg demo_output/clustered.gpkg \
	  --weight-field population --target-weight 240 --target-radius 1000 --max-weight 300 \
	  --summary demo_output/clusters.gpkg

# The Plugin Manager zip: the plugin with the engine core/ and metadata.txt dereferenced, and its icon.
package:
	rm -rf dist/build dist/wrok_plugin.zip && mkdir -p dist/build
	cp -rL wrok_plugin dist/build/wrok_plugin
	rm -f dist/build/wrok_plugin/README_SECTION.md
	mkdir -p dist/build/wrok_plugin/resources && cp resources/wrok.svg dist/build/wrok_plugin/resources/
	find dist/build -name __pycache__ -prune -exec rm -rf {} + ; find dist/build -name '*.pyc' -delete
	cd dist/build && /usr/bin/python3 -m zipfile -c ../wrok_plugin.zip wrok_plugin
	rm -rf dist/build
	@echo "built dist/wrok_plugin.zip"

bench: setup
	$(PY) tests/benchmarks/bench_engine.py

lint: setup
	$(PY) -m ruff check core wrok_plugin aws tests

clean:
	rm -rf $(VENV) demo_output dist
