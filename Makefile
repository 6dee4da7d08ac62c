# The two commands of the README: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# Four compiled gettext domains (staff: the bot's replies to CSO and brand staff, en and ur): wagecheck (what workers read: en, ur, sd, nl), reports (brand- and
# CSO-facing report text: en, nl) and portal (the web portal: en, nl, ur). A fourth, words
# (the words workers type for yes/no and commands: en, ur, sd), is read as .po by
# bot/survey/parsing.py and never compiled.
PO     := $(wildcard locales/*/LC_MESSAGES/wagecheck.po locales/*/LC_MESSAGES/reports.po \
                     locales/*/LC_MESSAGES/portal.po locales/*/LC_MESSAGES/staff.po)
MO     := $(PO:.po=.mo)
PYTEST_ARGS ?=
# Tests run in parallel, one worker per core (pytest-xdist; each worker has its own databases,
# ports and folders): on the 2-core CI machine the suite takes about half the time.
# PYTEST_WORKERS=0 runs them in one process.
PYTEST_WORKERS ?= auto

.PHONY: demo test test-shifted setup catalogs extract extract-worker extract-reports \
        extract-portal extract-words extract-staff review-status lint lock wheel bench clean

demo: setup
	$(VENV)/bin/wagecheck demo

# pytest exits 5 when it collected no test; say so plainly instead of failing obscurely.
test: setup
	@$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The date-sensitive tests again with the wall clock moved (time-machine; tests/shifted_clock.py
# says how, and that processes the tests start are moved too): 400 days on at 11:00, the last
# minute of a fiscal year and the first of the next (at night, in quiet hours: wage years and
# notifications turn at 1 July), and the last evening of a month (20:59, quiet hours a minute
# away). On SQLite; .ci/run runs it.
SHIFTED_MOMENTS ?= plus400d fy-end fy-start month-end
DATE_TESTS := tests/test_scheduler.py tests/test_scheduler_jobs.py tests/test_broadcast.py \
              tests/test_wages.py tests/test_reports.py tests/test_reports_formats.py \
              tests/test_reports_i18n.py tests/test_rounds_lifecycle.py tests/test_members_outbox.py \
              tests/test_service.py tests/test_portal_cso.py tests/test_portal_core.py \
              tests/test_portal_api.py tests/test_portal_brand.py tests/test_telegram.py \
              tests/test_whatsapp.py tests/test_cli.py
test-shifted: setup
	@for moment in $(SHIFTED_MOMENTS); do \
	    echo "== the date-sensitive tests with the wall clock at $$moment"; \
	    WAGECHECK_TEST_CLOCK=$$moment WAGECHECK_TEST_DATABASE_URL= \
	        $(PY) -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) $(DATE_TESTS) || exit 1; \
	done

setup: $(STAMP) catalogs

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

catalogs: $(MO)

locales/%.mo: locales/%.po $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -D $(notdir $*) -i $< -o $@

# After changing strings in bot/ or surveys/: refresh the templates and merge them into every .po.
extract: extract-worker extract-reports extract-portal extract-words extract-staff

extract-worker: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --add-comments=TRANSLATORS: \
	    --sort-by-file --project wagecheck --version 0.1 -o locales/wagecheck.pot .
	$(VENV)/bin/pybabel update -D wagecheck -i locales/wagecheck.pot -d locales --previous

# The bot's replies to CSO and brand staff: S_() in bot/channels (en, ur; no Sindhi, Dutch or
# Latin-letter rules: staff read command names such as /round).
STAFF_LANGUAGES := ur
extract-staff: $(STAMP)
	$(VENV)/bin/pybabel extract --no-default-keywords -k S_ --add-comments=TRANSLATORS: \
	    --sort-by-file --project wagecheck-staff --version 0.1 -o locales/staff.pot bot/channels
	@for lang in $(STAFF_LANGUAGES); do \
	    test -f locales/$$lang/LC_MESSAGES/staff.po || \
	    $(VENV)/bin/pybabel init -D staff -l $$lang -i locales/staff.pot -d locales; done
	$(VENV)/bin/pybabel update -D staff -i locales/staff.pot -d locales --previous --ignore-obsolete

# Report strings are marked T_() in bot/reports (bot/reports/strings.py), nothing else is.
extract-reports: $(STAMP)
	$(VENV)/bin/pybabel extract --no-default-keywords -k T_ --add-comments=TRANSLATORS: \
	    --sort-by-file --project wagecheck-reports --version 0.1 -o locales/reports.pot bot/reports
	$(VENV)/bin/pybabel update -D reports -i locales/reports.pot -d locales --previous --ignore-obsolete

# The portal's strings: N_()/translate() in bot/web, _()/ngettext/{% trans %} in its templates
# (babel-portal.cfg). New languages get a catalog; existing ones are merged.
PORTAL_LANGUAGES := en nl ur
extract-portal: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel-portal.cfg -k N_ -k translate:2 -k ntranslate:2,3 \
	    --add-comments=TRANSLATORS: --sort-by-file --project wagecheck-portal --version 0.1 \
	    -o locales/portal.pot .
	@for lang in $(PORTAL_LANGUAGES); do \
	    test -f locales/$$lang/LC_MESSAGES/portal.po || \
	    $(VENV)/bin/pybabel init -D portal -l $$lang -i locales/portal.pot -d locales; done
	$(VENV)/bin/pybabel update -D portal -i locales/portal.pot -d locales --previous --ignore-obsolete

# The words domain has no source to extract from: locales/words.pot lists the meanings (one
# per Command and yes/no answer; tests/test_parsing.py checks it) and is edited by hand.
extract-words: $(STAMP)
	$(VENV)/bin/pybabel update -D words -i locales/words.pot -d locales --ignore-obsolete

# How many translated entries still carry "# machine translation: needs review", per catalog.
review-status: $(STAMP)
	@$(PY) -m bot.i18n.review locales

# Every script in benchmarks/ (modules without a __main__ block, e.g. synthetic.py, and
# modules starting with _, which the benchmarks start themselves, are helpers), at its small
# default size. SQLite always, PostgreSQL when WAGECHECK_BENCH_DATABASE_URL's server answers.
# Results and the full sizes: docs/benchmarks.md.
bench: setup
	@for script in $$(grep -l '__main__' benchmarks/[!_]*.py); do \
	    echo "== $$script"; $(PY) $$script || exit 1; done

# The runtime dependencies pinned with hashes, for a reproducible image (deploy/Dockerfile
# installs exactly these): after changing `dependencies` in pyproject.toml, or to take newer
# releases (LOCK_ARGS=--upgrade). uv resolves for Python 3.11 on any platform; the test and
# dev tools are not in it.
LOCK_ARGS ?=
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 \
	    --generate-hashes --no-header --index-url https://pypi.org/simple $(LOCK_ARGS) \
	    | { printf '%s\n' "# The runtime dependencies of wagecheck, pinned: \`make lock\` writes this file" \
	        "# (uv pip compile pyproject.toml; docs/deploy.md, \"Upgrades\"). Do not edit by hand."; \
	        cat; } > requirements.lock

# The wheel a server installs (surveys and compiled catalogs inside; setup.py) into dist/.
wheel: $(STAMP)
	$(PY) -m build --wheel --outdir dist .

# Style, the layering contracts of docs/architecture.md ([tool.importlinter] in pyproject.toml)
# and types over all of bot/; hadolint for the container image's Dockerfile.
lint: setup
	$(VENV)/bin/ruff check bot tests benchmarks setup.py
	$(VENV)/bin/ruff format --check bot tests benchmarks setup.py
	$(VENV)/bin/hadolint deploy/Dockerfile
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis locales/*/LC_MESSAGES/*.mo
