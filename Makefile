# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
FLASK  := $(BIN)/flask --app app

.PHONY: run test install translations extract-messages assets bench soak clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "fieldservice needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) translations

# Compiled catalogues are build output (not committed): made from the .po files.
translations: $(STAMP)
	$(BIN)/pybabel compile --statistics -d fieldservice/translations

# Refresh the catalogue after changing user-facing strings; then translate the new zh_CN entries.
extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs '.* __pycache__' -o fieldservice/translations/messages.pot .
	$(BIN)/pybabel update -i fieldservice/translations/messages.pot -d fieldservice/translations --no-fuzzy-matching

# After editing fieldservice/static/js/*.js or css/*.css: rebuild their minified copies (committed;
# pages link a copy only while it was built from the source as it is, a test fails on a stale one).
assets: $(STAMP)
	$(BIN)/python -m fieldservice.devtools.assets

# Development: migrate, demo data when empty, SeaweedFS on loopback, app on :5000. Ctrl-C stops all.
run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	$(BIN)/python -m fieldservice.devtools.devserver

test: install
	$(BIN)/python -m pytest

# Benchmarks (not part of `make test`); results are appended to bench/RESULTS.md.
bench: install
	$(BIN)/python bench/photo_upload.py
	$(BIN)/python bench/page_weight.py
	$(BIN)/python bench/pages.py

# Load run (not part of `make test`): 50 technicians and 5 dispatchers for 5 minutes on gunicorn,
# PostgreSQL (database fs_soak, recreated) and SeaweedFS; appends to bench/RESULTS.md.
# Shorter: `make soak SOAK_MINUTES=1`.
SOAK_MINUTES ?= 5
soak: install
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

clean:
	rm -rf $(VENV) .pytest_cache
