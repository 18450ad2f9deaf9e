# The adapter's image: the crm-adapter command and nothing else.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir . \
    && useradd --create-home --uid 10001 --user-group crm \
    && mkdir -p /data \
    && chown crm:crm /data

# Embedded default (SQLite) lands in a folder the non-root user owns; compose sets
# CRM_DATABASE_URL to use PostgreSQL instead.
ENV CRM_DATA_DIR=/data
# wsdl/ and mappings/ are data beside the package, not inside it: read from the copy in /app.
ENV CRM_HOME=/app
USER crm
WORKDIR /data

CMD ["crm-adapter", "--help"]
