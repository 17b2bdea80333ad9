# Multi-stage: build a wheel and its dependencies in one stage, run as a non-root user in a
# slim one. The same image runs the API, the relay worker and the migrations.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /wheels \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 LOG_FORMAT=json DATA_DIR=/var/lib/aigen
RUN groupadd --system --gid 10001 aigen \
 && useradd --system --uid 10001 --gid aigen --home-dir /var/lib/aigen --create-home aigen
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/aigen
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=2s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=1).status != 200)"
ENTRYPOINT ["aigen"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
