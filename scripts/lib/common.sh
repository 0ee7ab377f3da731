# Shared by scripts/test, scripts/up and scripts/lint: the Debian packages
# micq needs, installed only when missing, and the standard build.

MICQ_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libboost-url1.81-dev
  libhiredis-dev rapidjson-dev libsimdjson-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev libfmt-dev prometheus-cpp-dev
  redis-server
  haproxy  # in front of serve instances: micq up --instances N, micq bench --scenario fleet
)

# Installs whatever of MICQ_PACKAGES (plus any extra names given) is missing.
micq_ensure_packages() {
  local wanted=("${MICQ_PACKAGES[@]}" "$@") missing=() pkg
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "micq: installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# micq_build DIR [cmake -D options...] -- [build targets...]
micq_configure() {
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
}
