# One image for all five services; docker-compose.yml picks the module to run.
# The audit log's native hot path is built in a Rust stage; the image needs no compiler.
FROM python:3.11-slim AS native
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl gcc libc6-dev \
    && curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH=/root/.cargo/bin:$PATH
COPY services/audit/native /native
RUN pip install --no-cache-dir maturin && maturin build --release -m /native/Cargo.toml -o /wheels

FROM python:3.11-slim
WORKDIR /app
COPY --from=native /wheels /wheels
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY client ./client
RUN pip install --no-cache-dir . /wheels/*.whl
ENV HTTP_HOST=0.0.0.0 LOG_JSON=true
USER nobody
