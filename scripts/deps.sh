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

# tb_sass_tools DIR : makes cuobjdump (and the nvdisasm it runs) findable for the SASS checks:
# the toolkit's own when it has them, else PyPI's nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm
# installed into a venv at DIR; exports TB_SASS_TOOLS, the folder holding them.
tb_sass_tools() {
    local nvcc_bin
    nvcc_bin="$(dirname "$(command -v nvcc)")"
    if [ -x "$nvcc_bin/cuobjdump" ] && [ -x "$nvcc_bin/nvdisasm" ]; then
        export TB_SASS_TOOLS="$nvcc_bin"
        return 0
    fi
    local venv="$1" bin
    bin="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu*/bin 2>/dev/null | head -n 1)" ||
        bin=""
    if [ -z "$bin" ] || [ ! -x "$bin/cuobjdump" ] || [ ! -x "$bin/nvdisasm" ]; then
        echo "trainbench: installing cuobjdump and nvdisasm from PyPI into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "nvidia-cuda-cuobjdump>=13,<14" "nvidia-cuda-nvdisasm>=13,<14"
        bin="$(ls -d "$venv"/lib/python3*/site-packages/nvidia/cu*/bin | head -n 1)"
    fi
    export TB_SASS_TOOLS="$bin"
}

# tb_native_archs : this node's GPUs as CMake CUDA architectures, with the architecture-specific
# targets where they exist (9.0 -> 90a, 10.0 -> 100a: "native" would build sm_90 and sm_100,
# which lack wgmma and setmaxnreg); "native" when nvidia-smi cannot say.
tb_native_archs() {
    local caps archs="" c a
    caps="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | sort -u)" || true
    for c in $caps; do
        a="${c/./}"
        case "$a" in
        90 | 100) a="${a}a" ;;
        esac
        archs="${archs:+$archs;}$a"
    done
    echo "${archs:-native}"
}
