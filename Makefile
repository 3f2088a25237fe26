# Two commands set everything up on a fresh machine: `make book` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Two workers, one notebook per worker at a time (plain -n splits a notebook's cells across workers).
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: help venv book serve test notebooks clean assignments bench grade student-folder pdf

help:
	@echo "make book       create .venv if needed, install pinned requirements, build the site into _build/html (and its PDF where Debian chromium is installed)"
	@echo "make serve      preview the built site on http://127.0.0.1:8000"
	@echo "make test       re-run every notebook (nbval, strict), build the site with warnings as errors, run tests/"
	@echo "make notebooks  re-run every notebook top to bottom and save its outputs (after you edit one), then notebooks/"
	@echo "make assignments  student notebooks and autograders from assignments/ into _build/assignments"
	@echo "make grade SUBMISSIONS=dir [ASSIGNMENT=ch1-by-hand]  grade a folder of notebooks, sandboxed, into graded/"
	@echo "make student-folder  student notebooks only (no solutions, no tests) into _build/student-folder, for a course repo"
	@echo "make pdf        the book as PDF (one file, and one per page) into _build/html/pdf, printed by Debian chromium"
	@echo "make bench      print the site's figures: build time, Lighthouse per page (nginx, gzip), make test vs its floor"

# torch comes first, as its CPU build: on Linux the default index's torch pulls several GB of CUDA libraries.
# PyTorch's CPU wheel index has the CPU build for every platform; where that index can't be reached (offline, or a
# machine that reaches only a package registry or a local wheel), a 5-second probe says so and pip takes the pinned
# torch from wherever else it is set up to look, instead of retrying for minutes.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH := $(shell grep -E '^torch==' requirements.txt)

$(INSTALLED): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if $(PY) -c "import urllib.request; urllib.request.urlopen('$(TORCH_INDEX)/torch/', timeout=5)" 2>/dev/null; then \
	  echo "$(TORCH): the CPU build, from $(TORCH_INDEX)"; \
	  $(PY) -m pip install --quiet --extra-index-url $(TORCH_INDEX) "$(TORCH)"; \
	else \
	  echo "$(TORCH): $(TORCH_INDEX) is out of reach, so from pip's own sources"; \
	  $(PY) -m pip install --quiet "$(TORCH)"; \
	fi
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(INSTALLED)

venv: $(INSTALLED)

# The site links its PDF: where Debian chromium is installed, `book` prints it too (about a minute); elsewhere it says
# how, and the site's PDF links stay dead until `make pdf`.
book: $(INSTALLED) assignments
	$(VENV)/bin/jupyter-book build .
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then $(PY) tools/book_pdf.py; \
	else echo "No PDF: the site links one. apt-get install chromium chromium-driver, then make pdf."; fi
	@echo
	@echo "The site is in _build/html: open _build/html/index.html, or run 'make serve'."

serve: book
	@echo "Serving _build/html on http://127.0.0.1:8000 (Ctrl-C to stop)"
	$(PY) -m http.server 8000 --bind 127.0.0.1 --directory _build/html

test: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS) --nbval --nbval-current-env book tests

# Student notebooks (published by `book`) and autograders with the hidden tests (never published) from the masters.
assignments: $(INSTALLED)
	$(PY) assignments/build.py

# A whole class, sandboxed and in parallel: gradebook, feedback and summary per assignment into $(GRADED)/.
SUBMISSIONS ?= submissions
GRADED ?= graded
GRADE_ARGS ?=
grade: $(INSTALLED) assignments
	$(PY) assignments/grade.py $(SUBMISSIONS) --out $(GRADED) $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(GRADE_ARGS)

# What students may see, as a folder to push to a course repository (nbgitpuller, Colab, Binder links).
student-folder: $(INSTALLED) assignments
	$(PY) assignments/student_folder.py $(STUDENT_FOLDER_ARGS)

# Re-run every notebook, then write the learner notebooks (notebooks/: the chapters in plain Markdown, for Colab,
# Binder and the download button) from the chapters and their fresh outputs.
notebooks: $(INSTALLED)
	$(PY) tests/run_notebooks.py
	$(PY) tools/learner_notebooks.py

clean:
	rm -rf _build

# The book as PDF, printed from the built site by Debian chromium (apt-get install chromium chromium-driver).
pdf: book
	$(PY) tools/book_pdf.py

# Figures, not a test: Lighthouse (pinned in tests/bench/package-lock.json) against Debian chromium and nginx.
bench: $(INSTALLED) assignments
	cd tests/bench && npm ci --no-audit --no-fund --loglevel=error
	$(PY) tests/bench/bench.py $(BENCH_ARGS)
	$(PY) tests/bench/grading_bench.py
