FROM python:3.11-slim-bookworm

# ZBar for pyzbar, Tesseract (+ Portuguese) for the OCR fallback of the scanner.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 tesseract-ocr tesseract-ocr-por \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
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
COPY geo geo
COPY routing routing
COPY alembic alembic
# /var/lib/bipa/objects: the embedded object store (proof photos), a volume shared by the API
# and the worker (whose sweeper must see the same files).
RUN pip install --no-cache-dir . && useradd --system --uid 10001 bipa \
    && mkdir -p /var/lib/bipa/objects && chown -R bipa /var/lib/bipa
USER bipa

ENV BIPA_HOST=0.0.0.0 BIPA_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["bipa", "serve"]
