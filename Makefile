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

.PHONY: setup test test-core test-debian-versions test-debian13 test-debian-testing screenshots bench-qgis-process bench-cancel demo bench lint package aws-validate clean

setup: $(VENV)/.installed

# Package names per Debian release. PostgreSQL's major version is whatever the release's `postgresql` depends
# on (15 on Debian 12, 17 on Debian 13). Where QGIS's GDAL is built against numpy 2 (Debian 13 on, Python 3.13),
# the venv keeps Debian's numpy and Debian's shapely, pyproj, pyogrio and geopandas, which link QGIS's own
# GEOS/PROJ/GDAL: QGIS 3.40's qgis.core imports shapely at start-up, and a pip wheel's bundled GEOS there hangs
# QGIS. requirements.txt leaves those out by the same marker (python_version >= "3.13"). On Debian 12 the venv
# pins numpy < 2 (its GDAL is built against numpy 1) and takes the geo packages from pip (Debian's are too old).
QGIS_PACKAGES := qgis python3-qgis qgis-providers python3-venv python3-pip xvfb xauth zip unzip
NUMPY2_PACKAGES := python3-numpy python3-shapely python3-pyproj python3-pyogrio python3-geopandas
PG_PACKAGES = postgresql-$(1)-postgis-3 postgresql-client-$(1) python3-psycopg2 gdal-bin
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
# The newest PostgreSQL whose server binaries are installed (the tests' server, tests/pg_server.py, agrees).
PG_INSTALLED = $$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1 | cut -d/ -f4)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if ! command -v qgis_process.bin >/dev/null || ! /usr/bin/python3 -c 'import qgis.core' 2>/dev/null; then \
	  echo "installing QGIS from Debian (a few minutes)"; \
	  $(SUDO) apt-get update -qq && $(APT_INSTALL) $(QGIS_PACKAGES) >/dev/null; \
	fi
	@if /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 13))'; then \
	  dpkg -s $(NUMPY2_PACKAGES) >/dev/null 2>&1 || $(APT_INSTALL) $(NUMPY2_PACKAGES) >/dev/null; fi
	@# The tests start their own PostgreSQL + PostGIS server (tests/pg_server.py); psycopg2 talks to it,
	@# ogr2ogr (Debian GDAL's PostgreSQL driver) loads tables into it as users do.
	@pg=$(PG_INSTALLED); \
	if [ -z "$$pg" ] || [ ! -f /usr/share/postgresql/$$pg/extension/postgis.control ] || \
	    ! /usr/bin/python3 -c 'import psycopg2' 2>/dev/null || ! command -v ogr2ogr >/dev/null; then \
	  $(SUDO) apt-get update -qq; \
	  pg=$$(apt-cache depends postgresql | sed -n 's/^ *Depends: postgresql-\([0-9][0-9]*\)$$/\1/p' | head -1); \
	  [ -n "$$pg" ] || { echo "no PostgreSQL version found in apt's lists"; exit 1; }; \
	  echo "installing PostgreSQL $$pg + PostGIS 3 and psycopg2 from Debian"; \
	  $(APT_INSTALL) $(call PG_PACKAGES,$$pg) >/dev/null; \
	fi
	/usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@# numpy must be the one QGIS's GDAL was built against: osgeo.gdal_array fails to import otherwise.
	@$(PY) -c 'import numpy, osgeo.gdal_array, qgis.core; print("venv: numpy", numpy.__version__, "with GDAL", osgeo.gdal_array.gdal.__version__, "and QGIS", qgis.core.Qgis.QGIS_VERSION)'
	touch $@

# The engine on each release's own packages: Debian 12's python3-numpy 1.24, python3-sklearn 1.2 and python3-optuna
# 3.1 (the oldest versions metadata.txt says work), Debian 13's numpy 2.2, scikit-learn 1.4 and Optuna 4.1, in a venv
# that gets no pip packages at all.
DEBIAN_PACKAGES := python3-numpy python3-scipy python3-sklearn python3-optuna python3-pandas python3-shapely \
  python3-hypothesis python3-pytest

# CI's Hypothesis profile: the same examples every run (tests/conftest.py).
test: setup $(DEBIAN_VENV)/.installed
	HYPOTHESIS_PROFILE=ci $(PY) -m pytest -q tests
	$(MAKE) -s test-debian-versions

$(DEBIAN_VENV)/.installed:
	@dpkg -s $(DEBIAN_PACKAGES) >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(APT_INSTALL) $(DEBIAN_PACKAGES) >/dev/null; }
	/usr/bin/python3 -m venv --system-site-packages $(DEBIAN_VENV)
	touch $@

test-debian-versions: $(DEBIAN_VENV)/.installed
	$(DEBIAN_VENV)/bin/python -c 'import numpy, scipy, sklearn, optuna; mods = (numpy, scipy, sklearn, optuna); \
	  outside = [m.__file__ for m in mods if not m.__file__.startswith("/usr/lib/python3/dist-packages/")]; \
	  assert not outside, outside; \
	  print("engine on this release'"'"'s own packages:", ", ".join(m.__name__ + " " + m.__version__ for m in mods))'
	$(DEBIAN_VENV)/bin/python -m pytest -q -o addopts="-p no:cacheprovider" \
	  tests/core/engine/test_engine_on_system_versions.py

# The whole suite on Debian 13 (QGIS 3.40 LTR, Python 3.13, numpy 2, PostgreSQL 17) in a real trixie root built
# by debootstrap from the host's Debian mirror and kept in $(ROOTS) between runs; `make test-debian-testing` does
# the same on Debian testing (QGIS 3.44). Inside, the README's own `make test` installs what it needs.
ROOTS ?= /var/cache/wrok
SHARED ?= $(abspath $(CURDIR)/../shared)
IN_DEBIAN_ROOT = bash tests/platforms/debian_root.sh build $(1) $(ROOTS)/debian-$(1) && \
  bash tests/platforms/debian_root.sh run $(ROOTS)/debian-$(1) $(CURDIR) $(SHARED) make test
test-debian13:
	$(call IN_DEBIAN_ROOT,trixie)
test-debian-testing:
	$(call IN_DEBIAN_ROOT,testing)

# The documentation's desktop screenshot, from the real QGIS desktop smoke test.
screenshots: setup
	WROK_SCREENSHOT_DIR=$(CURDIR)/docs/images/screenshots $(PY) -m pytest -q tests/desktop

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
	    OUTPUT=demo_output/clustered.gpkg OUTLINES=demo_output/clusters.gpkg \
	    > demo_output/run.json 2> demo_output/run.log; status=$$?; rm -rf $$profile; \
	  if [ $$status != 0 ]; then tail -20 demo_output/run.log; exit $$status; fi
	$(PY) tests/plugin/demo_map.py demo_output/clustered.gpkg demo_output/clusters.gpkg \
	  demo_output/clusters.png demo_output/run.json

# The Plugin Manager zip: the plugin, its icon, LICENSE, and in vendor/ the engine core/ and the AWS pipeline's
# client modules, unchanged: wrok_plugin/engine_path.py puts vendor/ on sys.path so they import as `core` and
# `aws`, exactly as in a checkout and in the Lambda. demo/ holds the survey model and the demo files the survey
# tutorial's "In the desktop" opens (tests/plugin/provider/test_headless.py checks docs/qgis/survey.md names no
# file it lacks).
# help/ is the documentation site, built, so each algorithm's Help button opens its page offline.
DEMO_FILES := resources/survey_frame.model3 resources/demo_population.tif resources/demo_districts.geojson \
  resources/demo_strata.csv resources/demo_sample_sizes.csv
package: setup
	rm -rf dist/build dist/wrok_plugin.zip && mkdir -p dist/build/wrok_plugin/vendor/aws dist/build/wrok_plugin/demo
	cp -r wrok_plugin/. dist/build/wrok_plugin/
	cp LICENSE dist/build/wrok_plugin/
	cp $(DEMO_FILES) dist/build/wrok_plugin/demo/
	cp -r core dist/build/wrok_plugin/vendor/core
	for module in __init__ client kickoff merge split storage overrides; do \
	  cp aws/$$module.py dist/build/wrok_plugin/vendor/aws/ || exit 1; done
	mkdir -p dist/build/wrok_plugin/resources && cp resources/wrok.svg dist/build/wrok_plugin/resources/
	$(MKDOCS) -d $(CURDIR)/dist/build/wrok_plugin/help && find dist/build/wrok_plugin/help -name '*.map' -delete
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
  bench_aws_stream.py bench_update.py
bench: setup
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-bench.txt
	@status=0; for script in $(BENCH_SCRIPTS); do \
	  echo "== $$script"; (cd tests/benchmarks && PYTHONPATH=$(CURDIR) ../../$(PY) $$script) || status=1; \
	done; exit $$status

# The documentation site (mkdocs.yml, docs/): strict, so a broken link or anchor fails the build.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# ruff, QGIS 4 / Qt6 readiness: names PyQt6 or QGIS 4 lack (tests/lint/qt6_check.py), and every plugin
# module imported with qgis.PyQt being PyQt6 (tests/lint/pyqt6_imports.py; tests/lint runs both in `make test`),
# then the documentation site, built strictly into a throwaway folder.
lint: setup
	$(PY) -m ruff check core wrok_plugin aws tests docs
	$(PY) tests/lint/qt6_check.py wrok_plugin tests/plugin tests/desktop tests/lint
	$(PY) tests/lint/pyqt6_imports.py . wrok_plugin
	site=$$(mktemp -d) && $(MKDOCS) -d $$site; status=$$?; rm -rf $$site; exit $$status

# Offline lint of the AWS template and state machine (cfn-lint, sam validate --lint, ASL checks).
aws-validate: setup
	@$(PY) -c 'import cfnlint, moto, boto3' 2>/dev/null || \
	  $(PY) -m pip install -q --disable-pip-version-check -r requirements-aws.txt
	$(PY) -m aws.validate

clean:
	rm -rf $(VENV) demo_output dist
