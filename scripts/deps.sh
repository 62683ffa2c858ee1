# deps.sh - sourced by scripts/bench, scripts/test and scripts/node-check: finds nvcc and
# installs missing Debian packages when run as root (otherwise says what to install).

tb_find_nvcc() {
    if ! command -v nvcc >/dev/null 2>&1; then
        for d in /usr/local/cuda/bin /usr/local/cuda-*/bin; do
            if [ -x "$d/nvcc" ]; then
                export PATH="$d:$PATH"
                break
            fi
        done
    fi
    if ! command -v nvcc >/dev/null 2>&1; then
        echo "trainbench: nvcc not found: install the CUDA toolkit (12.8 or newer; 13.x tested)" \
             "and put its bin/ on PATH" >&2
        exit 2
    fi
    export CUDACXX="${CUDACXX:-$(command -v nvcc)}"
}

# tb_need_packages PKG... : installs the Debian packages that are missing.
tb_need_packages() {
    local missing=()
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "trainbench: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "trainbench: missing packages: ${missing[*]}" >&2
        echo "trainbench: install them with: sudo apt-get install ${missing[*]}" >&2
        exit 2
    fi
}

tb_jobs() {
    nproc 2>/dev/null || echo 2
}

tb_have_gpu() {
    command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}
