#!/usr/bin/env bash
# asrlab's one entry point on a fresh machine: ./run.sh setup | course | test | bench | notebooks
# It creates .venv with the pinned requirements, installs asrlab into it, and (when it can, as
# root or with passwordless sudo) the optional Debian packages: flite voices and the real
# Asterisk telephone recordings. Without them asrlab says what is missing and carries on.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
SIZE=${SIZE:-lab}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}  # see asrlab/__init__.py
STAMP="$VENV/.asrlab-installed"

system_packages() {
  local pkgs="flite asterisk-core-sounds-en-wav asterisk-core-sounds-en"
  if command -v flite >/dev/null && [ -d /usr/share/asterisk/sounds/en_US_f_Allison ] \
     && ls /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt* >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "[asrlab] optional Debian packages not installed (no root): $pkgs"; return 0; fi
  fi
  if command -v apt-get >/dev/null; then
    echo "[asrlab] installing optional Debian packages: $pkgs"
    # Debian images that drop /usr/share/doc would lose the Asterisk transcripts: keep that folder.
    if [ -f /etc/dpkg/dpkg.cfg.d/docker ] || [ -f /etc/dpkg/dpkg.cfg.d/excludes ]; then
      $sudo sh -c 'echo "path-include=/usr/share/doc/asterisk-core-sounds-en/*" > /etc/dpkg/dpkg.cfg.d/asrlab-keep-doc'
    fi
    ($sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $pkgs >/dev/null) \
      || echo "[asrlab] could not install $pkgs: the flite voices and the real telephone domain are left out"
  fi
}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV" 2>/dev/null || {
      echo "[asrlab] python3 -m venv failed (Debian: apt-get install python3-venv); trying virtualenv"
      { "$PYTHON" -m pip install -q --user virtualenv 2>/dev/null \
        || "$PYTHON" -m pip install -q --user --break-system-packages virtualenv; } \
        && "$PYTHON" -m virtualenv -q "$VENV"; }
  fi
  if [ ! -f "$STAMP" ] || [ requirements.txt -nt "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r requirements.txt
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$STAMP"
  fi
  system_packages
}

course() {
  setup
  local bin="$VENV/bin"
  "$bin/asrlab" corpus build --out "data/corpus-$SIZE" --size "$SIZE"
  # the shipped source model on every domain's test set: the gap the course sets out to close
  "$bin/asrlab" eval --model asrlab-source --corpus "data/corpus-$SIZE" --split test \
    --save "results/course-source-$SIZE.json"
  # every notebook, headless, in order (smoke: minutes; lab, the default: what a learner runs, at
  # most 10 minutes a notebook; full: the README's tables, hours on 2 CPU cores); executed copies
  # in data/notebooks/, results in results/, figures (full size) in figures/
  "$bin/asrlab" notebooks run --size "$SIZE"
  "$bin/asrlab" report
}

run_tests() {
  setup
  if [ "$#" -gt 0 ]; then ASRLAB_SMOKE=1 "$VENV/bin/python" -m pytest -q "$@"; return; fi
  # unit tests, then every notebook executed in smoke mode (outputs are not stored, so
  # --nbval-lax: every cell must run, and the notebooks' own assertions do the checking)
  ASRLAB_SMOKE=1 "$VENV/bin/python" -m pytest -q tests/
  # a smoke cell runs in seconds: one still running after 5 minutes has stalled, so fail it then
  ASRLAB_SMOKE=1 "$VENV/bin/python" -m pytest -q --nbval-lax notebooks/ --nbval-sanitize-with notebooks/sanitize.cfg \
    --nbval-cell-timeout 300
}

case "${1:-}" in
  setup) setup ;;
  course) course ;;
  test) shift; run_tests "$@" ;;
  bench) setup; "$VENV/bin/asrlab" bench --json ;;
  *) echo "usage: ./run.sh setup | course | test [pytest args] | bench"; exit 2 ;;
esac
