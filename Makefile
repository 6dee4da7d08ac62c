# The two commands of the README: `make demo` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PO     := $(wildcard locales/*/LC_MESSAGES/wagecheck.po)
MO     := $(PO:.po=.mo)
PYTEST_ARGS ?=

.PHONY: demo test setup catalogs extract lint bench clean

demo: setup
	$(VENV)/bin/wagecheck demo

# pytest exits 5 when it collected no test; say so plainly instead of failing obscurely.
test: setup
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

setup: $(STAMP) catalogs

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

catalogs: $(MO)

locales/%/LC_MESSAGES/wagecheck.mo: locales/%/LC_MESSAGES/wagecheck.po $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy -D wagecheck -i $< -o $@

# After changing strings in bot/ or surveys/: refresh the template and merge it into every .po.
extract: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ --add-comments=TRANSLATORS: \
	    --sort-by-file --project wagecheck --version 0.1 -o locales/wagecheck.pot .
	$(VENV)/bin/pybabel update -D wagecheck -i locales/wagecheck.pot -d locales --previous

lint: setup
	$(VENV)/bin/ruff check bot tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis locales/*/LC_MESSAGES/*.mo
