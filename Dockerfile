# The service on the committed weights:
#   docker build -t numpy-cnn . && docker run --rm -p 8000:8000 numpy-cnn
# then open http://127.0.0.1:8000/ (the drawing page) or http://127.0.0.1:8000/docs (the API).
# Settings: CNN_HOST, CNN_PORT, CNN_WORKERS and the rest, all in the README's table.

# Stage 1: build the project's wheel (weights and page inside it) and install it into a virtual
# environment; pip, its caches and the source tree stay behind in this stage.
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY model ./model
COPY app ./app
COPY weights/cnn.npz weights/cnn.json ./weights/
COPY static ./static
RUN python -m venv /opt/cnn \
    && /opt/cnn/bin/pip install --no-compile . \
    && /opt/cnn/bin/pip uninstall --yes pip \
    && find /opt/cnn -depth -name __pycache__ -type d -exec rm -rf {} +

# Stage 2: the runtime, with nothing but Python and the virtual environment.
FROM python:3.11.14-slim-bookworm
ENV PATH=/opt/cnn/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CNN_HOST=0.0.0.0 \
    CNN_PORT=8000 \
    CNN_WORKERS=1
RUN groupadd --system --gid 10001 cnn && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin cnn
COPY --from=build /opt/cnn /opt/cnn
# The installed package finds its weights and page by itself; run from an empty directory to show it.
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CNN_PORT', '8000'), timeout=4)"]
STOPSIGNAL SIGTERM
# Exec form: python is PID 1 and receives SIGTERM itself; uvicorn then finishes in-flight requests.
CMD ["python", "-m", "app"]
