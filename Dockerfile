# One image for all five services; docker-compose.yml picks the module to run.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir .
ENV HTTP_HOST=0.0.0.0 LOG_JSON=true
USER nobody
