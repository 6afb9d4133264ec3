# The service on the committed weights:
#   docker build -t numpy-cnn . && docker run --rm -p 8000:8000 numpy-cnn
# then open http://127.0.0.1:8000/ (the drawing page) or http://127.0.0.1:8000/docs (the API).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv
# Dependencies first, so that a change to the code does not reinstall them.
COPY pyproject.toml README.md ./
COPY model ./model
COPY app ./app
RUN pip install . && useradd --system --no-create-home cnn

COPY weights ./weights
COPY static ./static
ENV CNN_WEIGHTS=/srv/weights/cnn.npz \
    CNN_STATIC_DIR=/srv/static

USER cnn
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["python", "-m", "app", "--host", "0.0.0.0", "--port", "8000"]
