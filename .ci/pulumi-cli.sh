#!/usr/bin/env bash
# `make pulumi`: put a Pulumi CLI, and the plugins a Python program needs, in a virtualenv's bin.
#
#   .ci/pulumi-cli.sh VENV_BIN
#
# 1. A `pulumi` already on the PATH (outside VENV_BIN), at least $MIN_VERSION: linked with
#    the Python plugins installed beside it.
# 2. Otherwise one built from Pulumi's Go modules (github.com/pulumi/pulumi/pkg/v3 and sdk/v3
#    at $PULUMI_CLI_VERSION) through the Go module proxy, into a cache outside the checkout
#    keyed by version, so only a machine's first run pays for the build; then linked.
# 3. Neither: stop with a message naming both ways out.
#
# Beside the CLI go `pulumi-resource-pulumi-python` (the dynamic-provider launcher, a script
# in sdk/v3) and, where it can be had, the Python language host. The module proxy does not
# serve the language host's module at every release; without it `pulumi up` cannot run a
# Pulumi.yaml project, and programs run through the Automation API's inline programs.
set -euo pipefail

VENV_BIN=$(cd "${1:?usage: pulumi-cli.sh VENV_BIN}" && pwd)
VERSION=${PULUMI_CLI_VERSION:-3.274.1}
MIN_VERSION=3.140.0
CACHE_ROOT=${PULUMI_ASTROKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-astrokeys}
CACHE="$CACHE_ROOT/pulumi-v$VERSION"
PLUGINS=(pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python pulumi-analyzer-policy-python)

say() { echo "make pulumi: $*" >&2; }

version_of() {  # the x.y.z a `pulumi version` prints, or nothing
    PULUMI_SKIP_UPDATE_CHECK=true "$1" version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n1 || true
}

at_least() {  # at_least HAVE WANT
    [ -n "$1" ] && [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

link_into_venv() {  # link_into_venv DIR: the CLI and whatever plugins DIR holds
    local dir=$1 name
    ln -sf "$dir/pulumi" "$VENV_BIN/pulumi"
    for name in "${PLUGINS[@]}"; do
        if [ -x "$dir/$name" ]; then
            ln -sf "$dir/$name" "$VENV_BIN/$name"
        else
            rm -f "$VENV_BIN/$name"
        fi
    done
}

# -- 1. an installed CLI ---------------------------------------------------------------------
installed=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$VENV_BIN" | paste -sd: -) command -v pulumi || true)
if [ -n "$installed" ]; then
    have=$(version_of "$installed")
    if at_least "$have" "$MIN_VERSION"; then
        link_into_venv "$(dirname "$(readlink -f "$installed")")"
        say "using the Pulumi CLI v$have at $installed"
        exit 0
    fi
    say "the Pulumi CLI at $installed is v${have:-unknown}, older than v$MIN_VERSION: building v$VERSION instead"
fi

# -- 2. a built CLI, from the cache or built now ----------------------------------------------
if [ -x "$CACHE/pulumi" ] && [ "$(version_of "$CACHE/pulumi")" = "$VERSION" ] && [ -x "$CACHE/pulumi-resource-pulumi-python" ]; then
    link_into_venv "$CACHE"
    say "using the Pulumi CLI v$VERSION built in $CACHE"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    say "no Pulumi CLI (>= v$MIN_VERSION) on the PATH and no Go toolchain to build one. Either install the"
    say "Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on the PATH, or install Go 1.26 or newer"
    say "(https://go.dev/doc/install) so that \`make pulumi\` can build v$VERSION from Pulumi's Go modules."
    exit 1
fi

say "building the Pulumi CLI v$VERSION from Pulumi's Go modules into $CACHE (a machine's first run only; several minutes)"
started=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The compiled packages (2 GB and more) are of no use once the binary is cached: build them in
# a throwaway cache. Downloaded modules stay in Go's shared module cache.
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOCACHE="$work/go-build"
cd "$work"

cat > go.mod <<EOF
module pulumi-astrokeys.local/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v$VERSION
	github.com/pulumi/pulumi/sdk/v3 v$VERSION
)
EOF
# The CLI's own modules replace a few dependencies (forks); a module that builds them must
# repeat those replaces. Their local replaces (pkg's `=> ../sdk`) are what the require does.
go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" "github.com/pulumi/pulumi/sdk/v3@v$VERSION" > modules.json
sdk_dir=$(grep '"Dir"' modules.json | grep '/sdk/v3@' | sed -E 's/.*"Dir": "([^"]+)".*/\1/')
for mod in $(grep '"GoMod"' modules.json | sed -E 's/.*"GoMod": "([^"]+)".*/\1/'); do
    awk '/^replace \(/{block=1; next} block && /^\)/{block=0; next}
         block {print "replace " $0; next} /^replace /{print}' "$mod"
done | sed -E 's/^replace[[:space:]]+//' | grep -vE '=>[[:space:]]*\.' | sort -u | sed 's/^/replace /' >> go.mod

cat > tools.go <<'EOF'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
EOF
go mod tidy

mkdir -p "$CACHE.partial"
# As Pulumi's release builds it; without the version ldflag `pulumi version` prints nothing
# and the Automation API refuses the binary.
CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" \
    -o "$CACHE.partial/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$CACHE.partial/"

# The Python language host has no version tag of its own; PULUMI_LANGUAGE_PYTHON_VERSION names
# the pseudo-version of the release's commit where the module proxy serves it.
language=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
if [ -n "${PULUMI_LANGUAGE_PYTHON_VERSION:-}" ] && go get "$language@$PULUMI_LANGUAGE_PYTHON_VERSION" 2>/dev/null; then
    CGO_ENABLED=0 go build -trimpath -o "$CACHE.partial/pulumi-language-python" "$language"
    install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$CACHE.partial/"
else
    echo "The module proxy serves no Python language host for v$VERSION: programs run through the Automation API's inline programs." \
        > "$CACHE.partial/NO-LANGUAGE-HOST"
fi

rm -rf "$CACHE"
mv "$CACHE.partial" "$CACHE"
link_into_venv "$CACHE"
say "built the Pulumi CLI v$VERSION in $(( $(date +%s) - started )) s: $(du -sh "$CACHE" | cut -f1) in $CACHE"
if [ -f "$CACHE/NO-LANGUAGE-HOST" ]; then
    say "$(cat "$CACHE/NO-LANGUAGE-HOST")"
fi
