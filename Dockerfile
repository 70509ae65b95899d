# One image for every Outbound service: `outbound serve <name>` or `outbound migrate`.

# The dashboard's and API docs' front-end packages (web/package.json, exact versions in its lock
# file), copied to where the gateway serves them, as `make web` does. No install script runs.
FROM node:22-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
 && mkdir -p /vendor/swagger-ui /vendor/eventsource-parser \
 && cp node_modules/alpinejs/dist/cdn.min.js /vendor/alpine.min.js \
 && cp node_modules/chart.js/dist/chart.umd.min.js /vendor/chart.umd.min.js \
 && cp node_modules/axe-core/axe.min.js /vendor/axe.min.js \
 && cp node_modules/eventsource-parser/dist/*.js /vendor/eventsource-parser/ \
 && cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
       node_modules/swagger-ui-dist/favicon-32x32.png /vendor/swagger-ui/

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml README.md ./
COPY kernel kernel
COPY campaign_rules campaign_rules
COPY services services
COPY gateway gateway
COPY --from=web /vendor gateway/static/vendor
COPY outbound_cli outbound_cli
COPY protos protos
RUN pip install . \
 && mkdir gen \
 && python -m grpc_tools.protoc -I protos --python_out=gen --grpc_python_out=gen $(find protos -name '*.proto') \
 && find /app -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH PYTHONPATH=/app:/app/gen \
    HOST=0.0.0.0 GRPC_HOST=0.0.0.0 METRICS_HOST=0.0.0.0 METRICS_PORT=9090 \
    SIP_BIND=0.0.0.0:5060
RUN useradd --system --uid 10001 --no-create-home outbound
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001
EXPOSE 8080 50051 9090
ENTRYPOINT ["outbound"]
CMD ["serve", "gateway"]
