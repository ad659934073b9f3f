# Kairan web image: the same locked dependencies as `make run`, served by granian (WSGI),
# static files by WhiteNoise. compose.yaml runs it with a Django-Q cluster and PostgreSQL.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app:/app/site \
    DJANGO_SETTINGS_MODULE=kairan.settings \
    KAIRAN_VAR_DIR=/data

# Rich menu images are drawn with Debian's Japanese font (never one committed to the repository).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY . .
RUN useradd --system --home /app kairan && mkdir -p /data && chown kairan /data
USER kairan
VOLUME ["/data"]
EXPOSE 8000

# `manage.py prepare` (migrate, cache table, static files, schedules) is the
# command `make run` runs too; compose.yaml runs it once before web and cluster.
CMD ["granian", "--interface", "wsgi", "kairan.wsgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "3", "--blocking-threads", "4", "--access-log"]
