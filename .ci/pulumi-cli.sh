#!/usr/bin/env bash
# `make pulumi`: put a Pulumi CLI and its language hosts in a virtualenv's bin.
#
#   .ci/pulumi-cli.sh VENV_BIN
#
# 1. A `pulumi` already on the PATH (outside VENV_BIN), at least $MIN_VERSION: linked with the
#    language hosts and plugins installed beside it. Nothing is built.
# 2. Otherwise one built from Pulumi's Go modules (github.com/pulumi/pulumi/pkg/v3 and sdk/v3 at
#    $PULUMI_CLI_VERSION) through the Go module proxy, into a cache outside the checkout keyed by
#    version, so only a machine's first run pays for the build. Beside it go the language hosts for
#    Python, Node.js, Go and YAML, built from ../shared/pulumi-language-hosts (keyed by a digest of
#    those sources, so a change of them rebuilds the hosts alone), and the dynamic-provider launcher
#    `pulumi-resource-pulumi-python` from sdk/v3. The CLI looks for plugins beside its own binary
#    first, so the hosts are found without a warning.
# 3. Neither a CLI nor Go: stop with a message naming both ways out.
set -euo pipefail

VENV_BIN=$(cd "${1:?usage: pulumi-cli.sh VENV_BIN}" && pwd)
VERSION=${PULUMI_CLI_VERSION:-3.274.1}
MIN_VERSION=3.140.0
CACHE_ROOT=${PULUMI_ASTROKEYS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-astrokeys}
CACHE="$CACHE_ROOT/pulumi-v$VERSION"
HOSTS_SRC=${PULUMI_LANGUAGE_HOSTS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/pulumi-language-hosts}
PLUGINS=(pulumi-language-python pulumi-language-python-exec pulumi-language-nodejs pulumi-language-go
         pulumi-language-yaml pulumi-resource-pulumi-python pulumi-analyzer-policy-python)

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

hosts_key() {  # a digest of the host sources: their paths and contents
    (cd "$HOSTS_SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# -- 1. an installed CLI ---------------------------------------------------------------------
installed=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$VENV_BIN" | paste -sd: -) command -v pulumi || true)
if [ -n "$installed" ] && [ "$(dirname "$(readlink -f "$installed")")" != "$CACHE" ]; then
    have=$(version_of "$installed")
    if at_least "$have" "$MIN_VERSION"; then
        link_into_venv "$(dirname "$(readlink -f "$installed")")"
        say "using the Pulumi CLI v$have at $installed"
        exit 0
    fi
    say "the Pulumi CLI at $installed is v${have:-unknown}, older than v$MIN_VERSION: building v$VERSION instead"
fi

# -- 2. a built CLI and hosts, from the cache or built now -------------------------------------
need_cli=yes
if [ -x "$CACHE/pulumi" ] && [ "$(version_of "$CACHE/pulumi")" = "$VERSION" ] && [ -x "$CACHE/pulumi-resource-pulumi-python" ]; then
    need_cli=
fi
want_hosts=
if [ -d "$HOSTS_SRC" ] && [ -f "$HOSTS_SRC/build.sh" ]; then
    want_hosts=$(hosts_key)
fi
need_hosts=
if [ -n "$want_hosts" ] && { [ -n "$need_cli" ] || [ "$(cat "$CACHE/language-hosts.key" 2>/dev/null)" != "$want_hosts" ]; }; then
    need_hosts=yes
fi
no_hosts_line="this Pulumi CLI has no language hosts ($HOSTS_SRC is absent): it runs Automation API inline programs, but not a project folder (Pulumi.yaml) nor \`pulumi package gen-sdk\`"

if [ -z "$need_cli" ] && [ -z "$need_hosts" ]; then
    link_into_venv "$CACHE"
    say "using the Pulumi CLI v$VERSION built in $CACHE"
    [ -n "$want_hosts" ] || say "$no_hosts_line"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    say "no Pulumi CLI (>= v$MIN_VERSION) on the PATH and no Go toolchain to build one. Either install the"
    say "Pulumi CLI (https://www.pulumi.com/docs/install/) and put it on the PATH, or install Go 1.26 or newer"
    say "(https://go.dev/doc/install) so that \`make pulumi\` can build v$VERSION from Pulumi's Go modules."
    exit 1
fi

started=$(date +%s)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One throwaway build cache for the CLI and the hosts: they compile most of the same packages,
# and the compiled packages (2 GB and more) are of no use once the binaries are cached.
# Downloaded modules stay in Go's shared module cache.
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOCACHE=${PULUMI_ASTROKEYS_GOCACHE:-$work/go-build}

if [ -n "$need_cli" ]; then
    say "building the Pulumi CLI v$VERSION${need_hosts:+ and its language hosts} from Pulumi's Go modules into $CACHE (a machine's first run only; several minutes)"
    stage="$CACHE.partial"
    rm -rf "$stage"
    mkdir -p "$stage" "$work/cli"
    (
        cd "$work/cli"
        cat > go.mod <<EOF
module pulumi-astrokeys.local/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 v$VERSION
	github.com/pulumi/pulumi/sdk/v3 v$VERSION
)
EOF
        # The CLI's own modules replace a few dependencies (forks); a module that builds them
        # must repeat those replaces. Their local replaces (pkg's `=> ../sdk`) are what the
        # require does.
        go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" "github.com/pulumi/pulumi/sdk/v3@v$VERSION" > modules.json
        for mod in $(grep '"GoMod"' modules.json | sed -E 's/.*"GoMod": "([^"]+)".*/\1/'); do
            awk '/^replace \(/{block=1; next} block && /^\)/{block=0; next}
                 block {print "replace " $0; next} /^replace /{print}' "$mod"
        done | sed -E 's/^replace[[:space:]]+//' | grep -vE '=>[[:space:]]*\.' | sort -u | sed 's/^/replace /' >> go.mod
        printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"\n' > tools.go
        go mod tidy
        # As Pulumi's release builds it; without the version ldflag `pulumi version` prints
        # nothing and the Automation API refuses the binary.
        CGO_ENABLED=0 go build -trimpath -tags osusergo,grpcnotrace \
            -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" \
            -o "$stage/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
        sdk_dir=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
        install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$stage/"
    )
    say "built the CLI in $(( $(date +%s) - started )) s"
else
    say "building the language hosts into $CACHE (their sources changed, or they were never built)"
    stage="$work/hosts"
    mkdir -p "$stage"
fi

if [ -n "$need_hosts" ]; then
    hosts_started=$(date +%s)
    bash "$HOSTS_SRC/build.sh" "$stage"
    echo "$want_hosts" > "$stage/language-hosts.key"
    say "built the language hosts in $(( $(date +%s) - hosts_started )) s"
fi

if [ -n "$need_cli" ]; then
    rm -rf "$CACHE"
    mv "$stage" "$CACHE"
else
    # The key goes last: an interrupted copy leaves the hosts to be built again.
    find "$stage" -maxdepth 1 -type f ! -name language-hosts.key -exec install -m 0755 {} "$CACHE/" \;
    install -m 0644 "$stage/language-hosts.key" "$CACHE/language-hosts.key"
fi
link_into_venv "$CACHE"
say "done in $(( $(date +%s) - started )) s: $(du -sh "$CACHE" | cut -f1) in $CACHE"
[ -n "$want_hosts" ] || say "$no_hosts_line"
