# BrandPulse daemon image. Build: docker build -t brandpulse .
# Run the demo:  docker run -p 9108:9108 -v bp-data:/data brandpulse
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY sources ./sources
COPY nlp ./nlp
COPY alerts ./alerts
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# A CJK font for the report charts (Chinese brand names and keywords); no compilers here.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin brandpulse \
    && mkdir -p /data && chown brandpulse /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY config /app/config
# Runs with a read-only root filesystem (compose: read_only + tmpfs /tmp): the only writes are
# the database under /data and caches (jieba, matplotlib) under /tmp.
ENV BRANDPULSE_HOME=/app PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 MPLCONFIGDIR=/tmp/matplotlib
USER brandpulse
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["brandpulse"]
CMD ["demo", "--listen", "0.0.0.0:9108", "--data", "/data"]
