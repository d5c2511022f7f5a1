# Shared by the scripts in this folder (sourced, not run).
# has_kernel_sctp: true when this kernel can create SCTP sockets.
has_kernel_sctp() {
    .venv/bin/python - <<'PY' 2>/dev/null
import socket
socket.socket(socket.AF_INET, socket.SOCK_SEQPACKET, socket.IPPROTO_SCTP).close()
PY
}

# in_kernel CMD...: run CMD natively when this kernel has SCTP (and we are root, which the
# namespace fixtures need), else inside the lab VM.
in_kernel() {
    if has_kernel_sctp && [ "$(id -u)" = 0 ]; then
        "$@"
    else
        python3 lab/sctplab.py run --timeout "${SCTPMH_LAB_TIMEOUT:-3600}" -- "$@"
    fi
}
