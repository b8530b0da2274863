# Shared by scripts/demo, scripts/test and .ci/run: checks for what building and testing Tessera
# needs beyond the Rust toolchain and installs it from Debian's packages (or npm) when it can.
# When it cannot (not root and no password-less sudo), it stops and prints the exact command.
#
#   need_build_tools    m4, which GMP's bundled sources need to build (cggmp24's rug backend)
#   need_console_tools  node + npm, Debian's Chromium, and the console test's npm packages

_prereq_log() { echo "[setup] $*" >&2; }

# Runs apt-get as root, or through password-less sudo; otherwise prints the command and fails.
_apt_install() {
  local pkgs=("$@") runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      runner=(sudo -n)
    else
      _prereq_log "missing Debian packages: ${pkgs[*]}. Install them, then run this again:"
      _prereq_log "    sudo apt-get update && sudo apt-get install -y ${pkgs[*]}"
      exit 1
    fi
  fi
  _prereq_log "installing ${pkgs[*]} (apt-get)…"
  export DEBIAN_FRONTEND=noninteractive
  # Try the cached package lists first; refresh them only if that fails (a fresh machine).
  if ! "${runner[@]}" apt-get install -y "${pkgs[@]}" >/tmp/tessera-apt.log 2>&1; then
    "${runner[@]}" apt-get update >>/tmp/tessera-apt.log 2>&1 || true
    if ! "${runner[@]}" apt-get install -y "${pkgs[@]}" >>/tmp/tessera-apt.log 2>&1; then
      _prereq_log "apt-get could not install ${pkgs[*]}; its output is in /tmp/tessera-apt.log"
      exit 1
    fi
  fi
  _prereq_log "installed ${pkgs[*]}"
}

need_build_tools() {
  if ! command -v cargo >/dev/null 2>&1; then
    _prereq_log "cargo is not on PATH: install the Rust toolchain (https://rustup.rs), then run this again"
    exit 1
  fi
  command -v m4 >/dev/null 2>&1 || _apt_install m4
}

need_console_tools() {
  local missing=()
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
  [ ${#missing[@]} -eq 0 ] || _apt_install "${missing[@]}"
  # playwright-core drives the system Chromium (no browser download); `npm ci` runs again only
  # when package-lock.json changed.
  local console
  console="$(git rev-parse --show-toplevel 2>/dev/null || pwd)/crates/tessera-cli/tests/console"
  if ! cmp -s "$console/package-lock.json" "$console/node_modules/.tessera-lock"; then
    _prereq_log "installing the console test's npm packages (npm ci)…"
    (cd "$console" && npm ci --no-audit --no-fund --loglevel=error >/dev/null \
      && cp package-lock.json node_modules/.tessera-lock)
  fi
}

# The contract test (scripts/contract-test): CPython 3.11+ with the venv module (Debian ships it
# apart, as python3-venv) to install Schemathesis from PyPI into target/contract/venv.
need_contract_tools() {
  local missing=()
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  if [ ${#missing[@]} -eq 0 ] && ! python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    _prereq_log "python3 is $(python3 --version 2>&1); the contract test needs 3.11 or newer"
    exit 1
  fi
  { [ ${#missing[@]} -eq 0 ] && python3 -c 'import venv, ensurepip' 2>/dev/null; } || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] || _apt_install "${missing[@]}"
}
