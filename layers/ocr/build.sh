#!/usr/bin/env bash
# Builds the OCR Lambda layer: PyMuPDF, tesserocr (libtesseract 5.5 + Leptonica bundled in its wheel),
# Pillow, pytesseract, and the traineddata of the languages suppliers write in (spa, eng, deu, fra,
# nld, ita, por) plus osd (page orientation). Output: layers/ocr/build/ocr-layer-<arch>.zip
#
#   layers/ocr/build.sh                 # x86_64, Python 3.12 (Lambda python3.12 = Amazon Linux 2023)
#   ARCH=arm64 layers/ocr/build.sh
#   SMOKE=1 layers/ocr/build.sh         # also OCR a page inside the Lambda base image (needs Docker)
#   TESSDATA_DIR=/usr/share/tesseract-ocr/5/tessdata layers/ocr/build.sh   # models from a local folder
#   PIP_NO_INDEX=1 PIP_FIND_LINKS=.local/wheels layers/ocr/build.sh       # wheels from a local folder
#   TESSDATA_ONLY=1 TESSDATA_DIR=... OUT_DIR=/tmp/x layers/ocr/build.sh    # only fetch and check the models
#
# Offline (no GitHub; `angebae local --engine ministack` builds so): TESSDATA_DIR copies the models
# from a folder instead of downloading them (Debian 12's tesseract-ocr-<lang> packages ship these
# very files: the same SHA-256 sums are checked), and pip reads PIP_NO_INDEX / PIP_FIND_LINKS itself.
# The models come first, so a folder missing one or holding another version fails in a second; with
# TESSDATA_ONLY=1 the build stops there (a dry run of the offline path: no wheels, no zip).
#
# The wheels are the pinned versions of requirements.lock, their SHA-256 checked by pip (`python3
# layers/requirements.py lock` makes it from pyproject.toml's [ocr] extra): every build installs the
# versions the tests ran. Every wheel is manylinux_2_28, so pip fetches them for the target platform
# from any Linux or macOS host: no compiler, no container needed to build. See README.md for why Python 3.12 and not 3.11.
set -euo pipefail

ARCH="${ARCH:-x86_64}"
PYTHON_VERSION="${PYTHON_VERSION:-3.12}"
TESSDATA_TAG="${TESSDATA_TAG:-4.1.0}"
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT_DIR:-$HERE/build/$ARCH}"
ZIP="$HERE/build/ocr-layer-$ARCH.zip"

case "$ARCH" in
  x86_64) PLATFORM=manylinux_2_28_x86_64 ;;
  arm64) PLATFORM=manylinux_2_28_aarch64 ;;
  *) echo "ARCH must be x86_64 or arm64" >&2; exit 2 ;;
esac

# tessdata_fast 4.1.0: the models Debian 12's tesseract-ocr-<lang> 1:4.1.0 packages ship (in
# /usr/share/tesseract-ocr/5/tessdata; the sums below are those files'). Pinned by SHA-256 so a
# changed upstream file fails the build instead of the OCR. osd lets the worker turn pages that
# arrive sideways or upside down (angebae.ocr.engine.ocr_upright).
declare -A TESSDATA_SHA256=(
  [eng]=7d4322bd2a7749724879683fc3912cb542f19906c83bcc1a52132556427170b2
  [spa]=6f2e04d02774a18f01bed44b1111f2cd7f3ba7ac9dc4373cd3f898a40ea6b464
  [deu]=19d219bbb6672c869d20a9636c6816a81eb9a71796cb93ebe0cb1530e2cdb22d
  [fra]=ced037562e8c80c13122dece28dd477d399af80911a28791a66a63ac1e3445ca
  [nld]=ced0e5e046a84c908a6aa7accbef9a232c4a5d9a8276691b81c6ee64d02963f6
  [ita]=b8f89e1e785118dac4d51ae042c029a64edb5c3ee42ef73027a6d412748d8827
  [por]=c4932b937207a9514b7514d518b931a99938c02a28a5a5a553f8599ed58b7deb
  [osd]=9cf5d576fcc47564f11265841e5ca839001e7e6f38ff7f7aacf46d15a96b00ff
)

rm -rf "$OUT"
mkdir -p "$OUT/python" "$OUT/share/tessdata"

echo "== traineddata (tessdata_fast $TESSDATA_TAG${TESSDATA_DIR:+, from $TESSDATA_DIR})"
for lang in "${!TESSDATA_SHA256[@]}"; do
  dest="$OUT/share/tessdata/$lang.traineddata"
  if [[ -n "${TESSDATA_DIR:-}" ]]; then
    cp "$TESSDATA_DIR/$lang.traineddata" "$dest" \
      || { echo "no $lang.traineddata in $TESSDATA_DIR" >&2; exit 1; }
  else
    curl -fsSL --retry 3 -o "$dest" \
      "https://github.com/tesseract-ocr/tessdata_fast/raw/$TESSDATA_TAG/$lang.traineddata"
  fi
  echo "${TESSDATA_SHA256[$lang]}  $dest" | sha256sum --check --quiet \
    || { echo "checksum mismatch for $lang.traineddata" >&2; exit 1; }
done
echo "${#TESSDATA_SHA256[@]} models, SHA-256 checked"
[[ "${TESSDATA_ONLY:-0}" == "1" ]] && exit 0

echo "== wheels for $PLATFORM, CPython $PYTHON_VERSION"
python3 -m pip install --quiet --no-compile \
  --target "$OUT/python" \
  --platform "$PLATFORM" --implementation cp --python-version "$PYTHON_VERSION" \
  --only-binary=:all: -r "$HERE/requirements.lock"

echo "== trim"
find "$OUT/python" -name "__pycache__" -type d -prune -exec rm -rf {} +
rm -rf "$OUT/python/bin"
# PyMuPDF's C headers and docs are not needed at run time.
rm -rf "$OUT/python/pymupdf/mupdf-devel" "$OUT/python"/*.dist-info/sboms

mkdir -p "$(dirname "$ZIP")"  # also when OUT_DIR put the files elsewhere
rm -f "$ZIP"
(cd "$OUT" && zip -qr9 "$ZIP" python share)
echo "unzipped: $(du -sh "$OUT" | cut -f1) (Lambda allows 250 MB for function + layers)"
echo "zip:      $(du -h "$ZIP" | cut -f1)  $ZIP"

if [[ "${SMOKE:-0}" == "1" ]]; then
  echo "== smoke test in public.ecr.aws/lambda/python:$PYTHON_VERSION ($ARCH)"
  docker_platform=$([[ "$ARCH" == arm64 ]] && echo linux/arm64 || echo linux/amd64)
  docker run --rm --platform "$docker_platform" \
    -v "$OUT:/opt:ro" -v "$HERE/../common/python:/var/task:ro" \
    -e OMP_THREAD_LIMIT=1 -e TESSDATA_PREFIX=/opt/share/tessdata \
    --entrypoint python3 "public.ecr.aws/lambda/python:$PYTHON_VERSION" -c '
import pymupdf
from angebae.ocr.pipeline import read_document
doc = pymupdf.open(); page = doc.new_page()
page.insert_text((72, 100), "Merino wool scarf  AB-91444  12.49 USD", fontsize=14)
pix = page.get_pixmap(dpi=200)
scan = pymupdf.open(); scan.new_page().insert_image(scan[0].rect, pixmap=pix)
[result] = read_document(scan.tobytes(), languages="spa+eng", workers=1)
print(result.source, result.text)
assert "AB-91444" in result.text, result.text
print("smoke test ok")
'
fi
