#!/usr/bin/env bash
# Installs what pip cannot: Tesseract with the models of the languages suppliers write in
# (Spanish, English, German, French, Dutch, Italian, Portuguese; OSD for page orientation).
# Idempotent: does nothing when tesseract already lists every one of them.
set -euo pipefail
LANGS=(spa eng deu fra nld ita por osd)
have_all() {
  command -v tesseract >/dev/null 2>&1 || return 1
  local listed
  listed=$(tesseract --list-langs 2>/dev/null)
  for lang in "${LANGS[@]}"; do grep -qx "$lang" <<<"$listed" || return 1; done
}
have_all && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq tesseract-ocr "${LANGS[@]/#/tesseract-ocr-}" >/dev/null
elif command -v dnf >/dev/null 2>&1; then
  packs=()
  for lang in "${LANGS[@]}"; do [ "$lang" = osd ] || packs+=("tesseract-langpack-$lang"); done
  $SUDO dnf install -y tesseract tesseract-osd "${packs[@]}"
elif command -v brew >/dev/null 2>&1; then
  brew install tesseract tesseract-lang
else
  echo "install Tesseract 5 with the models for: ${LANGS[*]}, then rerun" >&2
  exit 1
fi
tesseract --version | head -1
