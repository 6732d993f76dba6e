#!/usr/bin/env bash
# Build the Pulumi CLI and its Python language host from their Go modules into <repo>/.tools/bin.
#
#   tools/build-pulumi.sh [--force] [--version X.Y.Z]
#
# No prebuilt Pulumi binary can be downloaded on the project's machines, but the Go module proxy serves
# Pulumi's Go modules. The upstream go.mod files carry `replace` directives, so `go install pkg@version` refuses
# them: each binary is built from a small wrapper module that requires the upstream module at one version and
# copies its non-local replaces (forks such as github.com/atotto/clipboard => github.com/tgummerer/clipboard).
#
# What lands in .tools/bin (put it on PATH, or let mbops find it there), and .tools/language-host:
#   pulumi                           package github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, at the version of the
#                                    installed Python SDK when the proxy serves it, else the next served release
#                                    above it; `pulumi version` reports that version (set by -ldflags as Pulumi's
#                                    own release build does), which the Automation API checks.
#   pulumi-resource-pulumi-python    the shim the engine starts for Python dynamic providers, from sdk/v3 at the
#                                    Python SDK's version
#   pulumi-analyzer-policy-python    the shim that runs a Python policy pack (`python -m pulumi.policy`) when no
#                                    language host is found (from the last sdk/v3 release that shipped it)
#   pulumi-language-python           the Python language host: it runs programs on disk (`pulumi up` in a project
#                                    folder; the Automation API serves inline programs itself) and starts Python
#                                    policy packs. Module
#                                    github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3 at the CLI's
#                                    version when served. The proxy refuses that module at every version here
#                                    (403 "This module version is not available"), so the fallback is the last
#                                    served sdk/v3 release that still held the host as a package
#                                    ($PULUMI_LEGACY_HOST_SDK, v3.68.0), in .tools/language-host with the current
#                                    SDK's pulumi-language-python-exec beside it. It runs programs as the current
#                                    host does but predates the engine's way of starting policy packs (RunPlugin
#                                    with the pack's folder in ProgramInfo), so bin/pulumi-language-python is then
#                                    tools/pulumi_language_python_front.py, run with $PULUMI_PYTHON_CMD (else
#                                    python3; it needs the pulumi SDK): it forwards every call to that host and
#                                    starts policy packs itself (`python -m pulumi.policy`).
#
# Builds are cached by version under $MBOPS_TOOLS_CACHE (default ~/.cache/mbops/pulumi), so a fresh clone on the
# same machine installs in a second; .tools/pulumi-build records what was built, and a second run with the same
# Python SDK and recipe is a no-op. Environment: PYTHON (default .venv/bin/python), MBOPS_TOOLS_DIR (default
# <repo>/.tools), PULUMI_VERSION (instead of the installed SDK's version), PULUMI_LEGACY_HOST_SDK.
set -euo pipefail

started=$(date +%s.%N)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}
tools=${MBOPS_TOOLS_DIR:-$repo/.tools}
bin="$tools/bin"
stamp="$tools/pulumi-build"
cache_root=${MBOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mbops/pulumi}
legacy_host_sdk=${PULUMI_LEGACY_HOST_SDK:-v3.68.0}
recipe=2     # bump when the build changes: installs and cached builds of another recipe are rebuilt
min_cli=3.181.0  # engine/automation.py MIN_CLI_VERSION: the first CLI that runs inline refresh/destroy
files=(bin/pulumi bin/pulumi-resource-pulumi-python bin/pulumi-analyzer-policy-python)
host_files=(pulumi-language-python pulumi-language-python-exec)
front_src="$repo/tools/pulumi_language_python_front.py"
front_sum=$(sha256sum "$front_src" | cut -c1-12)

pkg_module=github.com/pulumi/pulumi/pkg/v3
sdk_module=github.com/pulumi/pulumi/sdk/v3
host_module=github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3
version_var=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version

die() { echo "build-pulumi: $*" >&2; exit "${code:-1}"; }
say() { echo "build-pulumi: $*" >&2; }
elapsed() { awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

force=0
wanted=${PULUMI_VERSION:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --version) [ $# -ge 2 ] || die "--version needs a value, e.g. --version 3.272.0"; wanted=$2; shift ;;
    --version=*) wanted=${1#--version=} ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) code=2 die "unknown argument '$1'; allowed: --force, --version X.Y.Z" ;;
  esac
  shift
done

# --- which version ------------------------------------------------------------------------------------------
if [ -z "$wanted" ]; then
  [ -x "$python" ] || code=2 die "no Python at $python: create the venv first (python3 -m venv .venv &&" \
    ".venv/bin/pip install -e '.[test]'), or set PYTHON or PULUMI_VERSION"
  wanted=$("$python" -c 'import importlib.metadata as m; print(m.version("pulumi"))' 2>/dev/null) ||
    code=2 die "the pulumi Python SDK is not installed in $python (pip install -e .), or set PULUMI_VERSION"
fi
wanted=${wanted#v}
[[ "$wanted" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || code=2 die "version '$wanted' is not X.Y.Z (e.g. 3.272.0)"

installed_ok() {
  [ -f "$stamp" ] || return 1
  grep -qx "python_sdk=$wanted" "$stamp" && grep -qx "recipe=$recipe" "$stamp" || return 1
  grep -qx "front=$front_sum" "$stamp" || grep -qx "language_host_dir=bin" "$stamp" || return 1
  local dir
  dir=$(sed -n 's/^language_host_dir=//p' "$stamp")
  [ -n "$dir" ] || return 1
  for file in "${files[@]}" "${host_files[@]/#/$dir/}" bin/pulumi-language-python; do
    [ -x "$tools/$file" ] || return 1
  done
}
if [ "$force" = 0 ] && installed_ok; then
  echo "pulumi $(sed -n 's/^pulumi=//p' "$stamp") for Python SDK $wanted: cached in ${bin#"$repo"/} ($(elapsed)s)"
  exit 0
fi

command -v go >/dev/null || code=4 die "needs Go (1.26 or newer) to build the Pulumi CLI: https://go.dev/dl/" \
  "or apt-get install golang-go"
command -v flock >/dev/null || code=4 die "needs flock (util-linux)"
mkdir -p "$tools" "$cache_root"
exec 9>"$tools/.build-lock"
flock 9
if [ "$force" = 0 ] && installed_ok; then  # another run built it while we waited for the lock
  echo "pulumi $(sed -n 's/^pulumi=//p' "$stamp") for Python SDK $wanted: built by a concurrent run"
  exit 0
fi

export GOFLAGS="${GOFLAGS:-} -mod=mod"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# `go mod download -json MOD@VER` prints the module's .mod file and folder, or an "Error" (a proxy's 403 is a
# final no: the version or the whole module is not served).
download() {  # download MOD@VER FIELD -> prints the field (GoMod or Dir); returns 1 with the reason on stderr
  local json
  json=$(cd "$scratch" && go mod download -json "$1" 2>/dev/null) || true
  JSON="$json" FIELD="$2" python3 - <<'PY'
import json, os, sys
try:
    data = json.loads(os.environ["JSON"] or "{}")
except ValueError:
    data = {}
if data.get(os.environ["FIELD"]) and not data.get("Error"):
    print(data[os.environ["FIELD"]])
else:
    sys.stderr.write((data.get("Error") or "no answer from the Go module proxy").splitlines()[0] + "\n")
    sys.exit(1)
PY
}

# The non-local replace directives of a go.mod, as `go mod edit -replace` arguments (local ones, like
# `sdk/v3 => ../sdk`, point into the upstream repository and are replaced by requiring that module instead).
fork_replaces() {
  go mod edit -json "$1" | python3 -c '
import json, sys
for rep in json.load(sys.stdin).get("Replace") or []:
    old, new = rep["Old"], rep["New"]
    if new.get("Version"):
        at = "@" + old["Version"] if old.get("Version") else ""
        print("-replace=%s%s=%s@%s" % (old["Path"], at, new["Path"], new["Version"]))
'
}

# build_binary DIR OUT PACKAGE VERSION_STRING MODFILE... -- REQUIRE@VER...
build_binary() {
  local dir=$1 out=$2 package=$3 version=$4 go_version
  shift 4
  local modfiles=() requires=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do modfiles+=("$1"); shift; done
  shift
  requires=("$@")
  rm -rf "$dir" && mkdir -p "$dir"
  go_version=$(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')
  (
    cd "$dir"
    go mod init mbops.local/build >/dev/null 2>&1
    go mod edit -go="$go_version"
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$package" > tools.go
    for req in "${requires[@]}"; do go mod edit -require="$req"; done
    for modfile in "${modfiles[@]}"; do
      fork_replaces "$modfile" > replaces.txt
      mapfile -t reps < replaces.txt
      [ ${#reps[@]} -eq 0 ] || go mod edit "${reps[@]}"
    done
    go mod tidy >tidy.log 2>&1 || { tail -20 tidy.log >&2; exit 1; }
    go build -trimpath -ldflags "-s -w -X $version_var=v$version" -o "$out" "$package" 2>build.log ||
      { tail -30 build.log >&2; exit 1; }
  )
}

# The CLI: the SDK's own version when served, else the next served release above it (a newer engine runs an
# older SDK's programs; the reverse is not promised), else the newest served release.
served=$(cd "$scratch" && go list -m -versions "$pkg_module" 2>&1) ||
  die "the Go module proxy gave no version list for $pkg_module: $served"
cli=$(printf '%s\n' $served | sed -n 's/^v\([0-9]*\.[0-9]*\.[0-9]*\)$/\1/p' | sort -V | python3 -c '
import sys
wanted, floor = (tuple(int(x) for x in v.split(".")) for v in sys.argv[1:3])
versions = [tuple(int(x) for x in line.split(".")) for line in sys.stdin if line.strip()]
above = [v for v in versions if v >= wanted]
pick = min(above) if above else max((v for v in versions if v >= floor), default=None)
print(".".join(map(str, pick)) if pick else "")
' "$wanted" "$min_cli")
[ -n "$cli" ] || die "the Go module proxy serves no $pkg_module release at or above $min_cli"
[ "$cli" = "$wanted" ] ||
  say "$pkg_module@v$wanted is not served by the Go module proxy; building the nearest served release, v$cli"

key="v$cli-sdk$wanted-r$recipe"
store="$cache_root/$key"
if [ "$force" = 1 ] || [ ! -f "$store/pulumi-build" ]; then
  say "building Pulumi v$cli (Python SDK $wanted) in $store (a cold build takes minutes on 2 cores)"
  rm -rf "$store" && mkdir -p "$store/bin" "$store/language-host"

  pkg_mod=$(download "$pkg_module@v$cli" GoMod) || die "cannot fetch $pkg_module@v$cli"
  sdk_mod=$(download "$sdk_module@v$cli" GoMod) || die "cannot fetch $sdk_module@v$cli"
  build_binary "$scratch/cli" "$store/bin/pulumi" "$pkg_module/cmd/pulumi" "$cli" "$sdk_mod" "$pkg_mod" -- \
    "$pkg_module@v$cli" "$sdk_module@v$cli" || die "building $pkg_module/cmd/pulumi@v$cli failed (output above)"

  # The language host: its own module when served, else the last sdk/v3 release that held it as a package.
  if host_mod=$(download "$host_module@v$cli" GoMod 2>"$scratch/host.err"); then
    host_version=$cli host_source="$host_module@v$cli" host_dir=bin
    build_binary "$scratch/host" "$store/bin/pulumi-language-python" "$host_module" "$cli" \
      "$sdk_mod" "$pkg_mod" "$host_mod" -- "$host_module@v$cli" "$pkg_module@v$cli" "$sdk_module@v$cli" ||
      die "building $host_module@v$cli failed (output above)"
  else
    say "$host_module@v$cli: $(cat "$scratch/host.err")"
    legacy_mod=$(download "$sdk_module@$legacy_host_sdk" GoMod) || die "cannot fetch $sdk_module@$legacy_host_sdk"
    host_version=${legacy_host_sdk#v} host_dir=language-host
    host_source="$sdk_module@$legacy_host_sdk (python/cmd/pulumi-language-python)"
    say "building the Python language host from $host_source instead"
    build_binary "$scratch/host" "$store/language-host/pulumi-language-python" \
      "$sdk_module/python/cmd/pulumi-language-python" "$host_version" "$legacy_mod" -- \
      "$sdk_module@$legacy_host_sdk" || die "building the language host from $host_source failed (output above)"
  fi

  # The scripts, from the sdk/v3 release matching the installed Python SDK (else the CLI's).
  sdk_dir=$(download "$sdk_module@v$wanted" Dir 2>/dev/null) || sdk_dir=$(download "$sdk_module@v$cli" Dir)
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$store/$host_dir/"
  install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$store/bin/"
  analyzer=$sdk_dir/python/dist/pulumi-analyzer-policy-python
  if [ ! -f "$analyzer" ]; then
    analyzer="$(download "$sdk_module@$legacy_host_sdk" Dir)/python/dist/pulumi-analyzer-policy-python"
  fi
  install -m 0755 "$analyzer" "$store/bin/"

  cat > "$store/pulumi-build" <<EOF
python_sdk=$wanted
pulumi=$cli
pulumi_module=$pkg_module@v$cli
language_host=$host_version
language_host_module=$host_source
language_host_dir=$host_dir
scripts_module=$sdk_module@v$(basename "$sdk_dir" | sed 's/.*@v//')
go=$(go env GOVERSION)
recipe=$recipe
build_seconds=$(elapsed)
EOF
  for stale in "$cache_root/v$cli-sdk$wanted-"*; do  # builds of the same versions by an older recipe
    [ "$stale" = "$store" ] || rm -rf "$stale"
  done
else
  say "reusing the build in $store"
fi

# Install: hard links when on the same filesystem (instant), else copies; each file replaced atomically.
host_dir=$(sed -n 's/^language_host_dir=//p' "$store/pulumi-build")
rm -f "$bin/pulumi-language-python" "$bin/pulumi-language-python-exec" "$tools/language-host/"*
for file in "${files[@]}" "${host_files[@]/#/$host_dir/}"; do
  mkdir -p "$(dirname "$tools/$file")"
  [ "$tools/$file" -ef "$store/$file" ] && continue
  ln -f "$store/$file" "$tools/$file.new" 2>/dev/null || cp -f "$store/$file" "$tools/$file.new"
  mv -f "$tools/$file.new" "$tools/$file"
done
cp -f "$store/pulumi-build" "$stamp"
if [ "$host_dir" != bin ]; then  # the upstream host behind the front (see the header)
  install -m 0644 "$front_src" "$tools/$host_dir/pulumi_language_python_front.py"
  cat > "$bin/.pulumi-language-python.new" <<'EOF'
#!/bin/sh
# The Python language host beside this Pulumi CLI: tools/pulumi_language_python_front.py in front of the upstream
# host in ../language-host (written by tools/build-pulumi.sh).
here=$(cd "$(dirname "$0")/../language-host" && pwd)
exec "${PULUMI_PYTHON_CMD:-python3}" "$here/pulumi_language_python_front.py" --host "$here/pulumi-language-python" "$@"
EOF
  chmod 0755 "$bin/.pulumi-language-python.new"
  mv -f "$bin/.pulumi-language-python.new" "$bin/pulumi-language-python"
  echo "front=$front_sum" >> "$stamp"
fi
echo "pulumi $("$bin/pulumi" version) (language host $(sed -n 's/^language_host=//p' "$stamp")) for Python SDK" \
  "$wanted: installed in ${bin#"$repo"/} ($(elapsed)s)"
