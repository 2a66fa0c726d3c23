#!/usr/bin/env bash
# Installs what pip cannot: Tesseract with the Spanish and English models (Debian/Ubuntu).
# Idempotent: does nothing when tesseract already lists spa and eng.
set -euo pipefail
if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx spa \
   && tesseract --list-langs 2>/dev/null | grep -qx eng; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tesseract-ocr tesseract-ocr-spa tesseract-ocr-eng >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  $SUDO dnf install -y tesseract tesseract-langpack-spa tesseract-langpack-eng
elif command -v brew >/dev/null 2>&1; then
  brew install tesseract tesseract-lang
else
  echo "install Tesseract 5 with the spa and eng models, then rerun" >&2
  exit 1
fi
tesseract --version | head -1
