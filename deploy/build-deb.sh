#!/usr/bin/env bash
# build-deb.sh: builds the kioskd .deb from this checkout into OUTDIR.
#
#   deploy/build-deb.sh OUTDIR
#
# It builds the binary (pure Go, -trimpath), then packages it with nfpm, run
# from the Go module proxy at a pinned version (nfpm is not a dependency in
# go.mod). It prints the path of the .deb.
#
# Environment: KIOSKD_VERSION (default: from `git describe`, else 0.0.0~dev),
# GOARCH (default: the Go toolchain's), KIOSKD_MAINTAINER, SOURCE_DATE_EPOCH
# (default: the last commit's time, for reproducible file times).
set -euo pipefail

NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

if [ $# -ne 1 ] || [ "${1#-}" != "$1" ]; then
	echo "usage: build-deb.sh OUTDIR" >&2
	exit 2
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

arch=${GOARCH:-$(go env GOARCH)}
version=${KIOSKD_VERSION:-}
if [ -z "$version" ]; then
	# v1.2.3 -> 1.2.3; v1.2.3-4-gabcdef0 -> 1.2.3+4.gabcdef0
	if described=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		version=$(printf '%s' "$described" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g/+\1.g/' -e 's/-dirty$/+dirty/')
	elif commit=$(git rev-parse --short=12 HEAD 2>/dev/null); then
		version=0.0.0~git$commit
	else
		version=0.0.0~dev
	fi
fi
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && epoch=$(git log -1 --format=%ct 2>/dev/null); then
	export SOURCE_DATE_EPOCH=$epoch
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "build-deb.sh: building kioskd $version for linux/$arch" >&2
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -o "$work/kioskd" ./cmd/kioskd

export KIOSKD_BIN=$work/kioskd KIOSKD_VERSION=$version KIOSKD_ARCH=$arch
export KIOSKD_MAINTAINER=${KIOSKD_MAINTAINER:-kioskd maintainers <kioskd@localhost>}
deb=$out/kioskd_${version}_${arch}.deb
go run "$NFPM" package --config deploy/nfpm.yaml --packager deb --target "$deb" >&2
echo "$deb"
