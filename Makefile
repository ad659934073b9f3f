# Kairan: `make run` starts the demo, `make test` runs every check. See README.md.
.PHONY: run test otp lock clean help

help:
	@echo "make run    - install, migrate, load demo data and start web + Django-Q cluster"
	@echo "make test   - install test needs, then ruff, mypy and the whole pytest suite"
	@echo "make otp    - (demo) show the current two-factor code of USER (default admin)"
	@echo "make lock   - re-resolve requirements*.lock from pyproject.toml"

run:
	@scripts/venv.sh runtime
	@scripts/run.sh

test:
	@scripts/venv.sh dev
	@scripts/test.sh

USER ?= admin
otp:
	@KAIRAN_DEMO=1 .venv/bin/python manage.py demo_otp $(USER)

lock:
	@scripts/venv.sh dev
	.venv/bin/python -m pip install --quiet uv
	.venv/bin/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --no-header -o requirements.lock
	.venv/bin/uv pip compile pyproject.toml --group dev --python-version 3.11 --generate-hashes --no-header -o requirements-dev.lock

clean:
	rm -rf .venv var .mypy_cache .ruff_cache .pytest_cache
