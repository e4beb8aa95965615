FROM python:3.11-slim-bookworm

# ZBar for pyzbar, Tesseract (+ Portuguese) for the OCR fallback of the scanner.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 tesseract-ocr tesseract-ocr-por \
    && rm -rf /var/lib/apt/lists/*

# Built in /src and installed non-editable: the image runs the installed package (its
# migrations and web pages are package data, bipa/assets.py), and /src is removed after.
WORKDIR /src
COPY pyproject.toml README.md ./
# bipa/migrations and bipa/webroot are links to these two: copied so the build follows them.
COPY alembic alembic
COPY web web
COPY bipa bipa
COPY gql gql
COPY domain domain
COPY db db
COPY ocr ocr
COPY bot bot
COPY live live
COPY storage storage
COPY tracking tracking
COPY metrics metrics
COPY manifest manifest
COPY reports reports
COPY jobs jobs
COPY geo geo
COPY routing routing
# /var/lib/bipa: the data dir; /var/lib/bipa/objects, the embedded object store (proof
# photos), is a volume shared by the API and the worker (whose sweeper must see the files).
RUN pip install --no-cache-dir . && rm -rf /src \
    && useradd --system --uid 10001 bipa \
    && mkdir -p /var/lib/bipa/objects && chown -R bipa /var/lib/bipa
WORKDIR /var/lib/bipa
USER bipa

ENV BIPA_HOST=0.0.0.0 BIPA_PORT=8000 BIPA_DATA_DIR=/var/lib/bipa
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["bipa", "serve"]
