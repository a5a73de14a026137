# The wishpond-emulator image: a CI service container configured by WISHPOND_EMULATOR_* only.
#
# The build installs from a wheelhouse made on the host, so it needs no network:
#   pip wheel --wheel-dir wheelhouse .
#   docker build -t wishpond-emulator .
# The base needs python3 with the venv module (python:3.12-slim, or Debian with python3-venv);
# the wheelhouse must match the base's Python version (see docs/container.md).
ARG BASE=python:3.12-slim
FROM ${BASE}

COPY wheelhouse/ /tmp/wheelhouse/
# A venv works the same on bases with and without pip (Debian's python3-venv bundles one).
# pip and setuptools go afterwards: setuptools' startup hook slows every python start.
RUN python3 -m venv /opt/wishpond-emulator \
 && /opt/wishpond-emulator/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
      --find-links /tmp/wheelhouse wishpond-emulator \
 && /opt/wishpond-emulator/bin/python -m pip uninstall --yes --quiet pip setuptools \
 && rm -rf /tmp/wheelhouse \
 && useradd --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin emulator \
 && mkdir -p /data \
 && chown emulator:emulator /data

ENV PATH=/opt/wishpond-emulator/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WISHPOND_EMULATOR_HOST=0.0.0.0 \
    WISHPOND_EMULATOR_PORT=9474 \
    WISHPOND_EMULATOR_ALLOWED_HOSTS=*

USER emulator
WORKDIR /data
# State files live here: WISHPOND_EMULATOR_EXPORT_ON_EXIT=/data/state.json, or, to survive a
# crash too, WISHPOND_EMULATOR_DATA_FILE=/data/wishpond.db (unset by default: memory only).
VOLUME ["/data"]
EXPOSE 9474
STOPSIGNAL SIGTERM
# `ready` reads WISHPOND_EMULATOR_PORT and _ADMIN_TOKEN, so it follows the configuration.
HEALTHCHECK --interval=3s --timeout=3s --start-period=30s --retries=3 \
  CMD ["wishpond-emulator", "ready", "--timeout", "2"]
# Exec form: the emulator is PID 1 and gets SIGTERM itself, so it drains and exports at once.
ENTRYPOINT ["wishpond-emulator"]
CMD ["serve"]
