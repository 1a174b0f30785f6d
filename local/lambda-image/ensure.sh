#!/usr/bin/env bash
# Make sure public.ecr.aws/lambda/python:3.13 exists in the local Docker engine, for `sam local invoke`.
#
# Where a registry is reachable the real image is pulled. Where it is not (this project's CI), a compatible image
# is built offline, as ../shared/FACTS.md records: a minimal Debian bookworm rootfs, the runtime libraries, the
# host's CPython 3.13 at the same path (/var/lang/bin/python3 links to it), awslambdaric in /var/runtime and a
# /var/runtime/bootstrap that starts it. SAM then adds its own runtime interface emulator on top, as it does on
# the real image. The built image carries a label with the hash of its inputs and is rebuilt only when they change.
#
#   bash local/lambda-image/ensure.sh            # pull, else build (no-op when up to date)
#   BATCHRECS_OFFLINE_IMAGE=1 bash ...           # never try the registry
#   BATCHRECS_REQUIRE_DOCKER=1 bash ...          # fail, instead of doing nothing, when no Docker engine answers
set -euo pipefail

IMAGE=public.ecr.aws/lambda/python
TAG=3.13
RIC_VERSION=4.2.2
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What CPython's extension modules link against (ldd of lib-dynload), plus CA certificates.
PACKAGES=libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,libncursesw6,libexpat1,libuuid1,libgdbm6,ca-certificates

log() { echo "lambda-image: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
  # The sam local tier then skips itself, saying why; CI sets BATCHRECS_REQUIRE_DOCKER to make this a failure.
  if [ -n "${BATCHRECS_REQUIRE_DOCKER:-}" ]; then log "no Docker engine answers (docker info failed)"; exit 1; fi
  log "no Docker engine answers: nothing to do, the sam local tier will be skipped"
  exit 0
fi

PYTHON=$(python3.13 -c 'import sys; print(sys.base_prefix)')
PYTHON_VERSION=$("$PYTHON/bin/python3.13" -c 'import platform; print(platform.python_version())')
INPUTS=$({ cat "$0"; echo "$PYTHON $PYTHON_VERSION $RIC_VERSION $SUITE"; } | sha256sum | cut -c1-16)

label=$(docker image inspect -f '{{ index .Config.Labels "batchrecs.inputs" }}' "$IMAGE:$TAG" 2>/dev/null || echo missing)
case "$label" in
  "$INPUTS") log "$IMAGE:$TAG is up to date (inputs $INPUTS)"; exit 0 ;;
  "" | "<no value>") log "$IMAGE:$TAG is the registry's image; keeping it"; exit 0 ;;
esac

if [ -z "${BATCHRECS_OFFLINE_IMAGE:-}" ] && timeout 60 docker pull -q "$IMAGE:$TAG" >/dev/null 2>&1; then
  docker tag "$IMAGE:$TAG" "$IMAGE:$TAG-x86_64"
  log "pulled $IMAGE:$TAG"
  exit 0
fi

command -v debootstrap >/dev/null || { log "debootstrap is needed to build the image offline (apt-get install debootstrap)"; exit 1; }
log "no registry: building $IMAGE:$TAG offline (inputs $INPUTS; about 2 minutes)"
work=$(mktemp -d /var/tmp/batchrecs-lambda-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

# CPython at the path it was built for (its prefix is compiled in), without the test suite or the host's packages.
mkdir -p "$root$PYTHON" "$root/var/lang/bin" "$root/var/runtime" "$root/var/task" "$root/opt"
tar -C "$PYTHON" --exclude="./lib/python3.13/test" --exclude="./lib/python3.13/site-packages/*" -cf - . \
  | tar -C "$root$PYTHON" -xf -
for name in python python3 python3.13; do ln -s "$PYTHON/bin/python3.13" "$root/var/lang/bin/$name"; done

python3.13 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-compile --only-binary=:all: \
  --target "$root/var/runtime" "awslambdaric==$RIC_VERSION" 2>"$work/pip.log" || { cat "$work/pip.log" >&2; exit 1; }
cat >"$root/var/runtime/bootstrap" <<'BOOT'
#!/bin/sh
# Lambda's Python bootstrap: the function, then its layers, then the runtime client.
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
cd "${LAMBDA_TASK_ROOT:-/var/task}"
exec /var/lang/bin/python3 -m awslambdaric "$_HANDLER"
BOOT
chmod 755 "$root/var/runtime/bootstrap"

rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc "$root"/usr/share/man

tar -C "$root" -cf - . | docker import \
  --change "ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=en_US.UTF-8" \
  --change "ENV TZ=:/etc/localtime" \
  --change "ENV LAMBDA_TASK_ROOT=/var/task" \
  --change "ENV LAMBDA_RUNTIME_DIR=/var/runtime" \
  --change "WORKDIR /var/task" \
  --change "LABEL batchrecs.inputs=$INPUTS" \
  --change "LABEL batchrecs.built=offline" \
  --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  - "$IMAGE:$TAG" >/dev/null
docker tag "$IMAGE:$TAG" "$IMAGE:$TAG-x86_64"
log "built $IMAGE:$TAG and :$TAG-x86_64 offline"
