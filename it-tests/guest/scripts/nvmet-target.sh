# nvmet-target.sh - guest payload: the Linux NVMe/TCP target of nvmet-lib.sh, then a
# control loop through which the host changes the target while tests run.
# run.sh must get nvmet-lib.sh in GUEST_FILES (it lands in /payload next to this script).
#
# Environment (run.sh GUEST_ENV):
#   CONTROL_PORT        port on CONTROL_ADDR that the guest connects to for commands; the
#                       host maps it with run.sh GUESTFWD="CONTROL_PORT:HOSTPORT". Unset:
#                       no control channel, the target just stays up for HOLD_SECS.
#   CONTROL_ADDR        default 10.0.2.100 (run.sh's GUESTFWD_ADDR)
#   CONTROL_TOKEN       echoed in the HELLO line, so the host knows it talks to its own guest
#   CONTROL_RETRY_SECS  give up (exit 3) after this long without a working channel (default 60)
#   HOLD_SECS           without CONTROL_PORT: seconds to keep the target up (default 600)
#
# Console markers: NVMET-READY (target configured, both ports listening), NVMET-FAILED,
# NVMET-STOPPED. Exit 0 after "quit", 1 when the set-up failed, 3 when the channel was lost.
#
# Control protocol (one TCP connection, opened by the guest, kept for the whole run):
#   guest -> host, once:  HELLO nvmet-control token=<CONTROL_TOKEN>
#   host -> guest:        one command per line; the guest answers each with exactly one
#                         line "OK ..." or "ERR <reason>", in order.
#     ana PORT GRP STATE  STATE: optimized|non-optimized|inaccessible|persistent-loss|change
#     port-remove PORT    unlink the subsystem from the port (controllers deleted, port closed)
#     port-add PORT       link it again (the port listens again)
#     show                OK port1=linked grp1=optimized grp2=non-optimized port2=... 
#     ping                OK pong
#     host-key NQN HASH DHGROUP KEY [CTRLKEY]
#                         DH-HMAC-CHAP for host NQN (nvmet_host_key): only allowed hosts from
#                         then on; the log shows the command without its secrets
#     host-remove NQN     the host's entry and secrets go (nvmet_host_remove)
#     port-tls PORT NQN KEY
#                         TLS 1.3 on PORT with configured PSK KEY for host NQN (nvmet_port_tls):
#                         OK tsas=... treq=...; the log shows no key
#     sh CMD...           run CMD with sh -c (output to the console), OK rc=<exit code>
#     quit                OK bye; the payload tears the target down and exits 0
# With "sh SCRIPT --control" the script serves one such session on stdin/stdout (busybox
# nc -e runs it that way; run.sh installs the payload as /payload/script.sh).

SELF=$0
. /payload/nvmet-lib.sh
QUIT_FLAG=/run/nvmet-control.quit

nvmet_reply() {
    echo "$*"
    nvmet_log "control: -> $*" >&2
}

# nvmet_port_arg PORT: is PORT one of the configured nvmet ports?
nvmet_port_arg() {
    case "$1" in ''|*[!0-9]*) return 1;; esac
    [ -d "$NVMET/ports/$1" ]
}

nvmet_control_session() {
    local line cmd rest err cr rc
    cr=$(printf '\r')
    set -f
    echo "HELLO nvmet-control token=${CONTROL_TOKEN:-}"
    while IFS= read -r line; do
        line=${line%"$cr"}
        [ -n "$line" ] || continue
        case "$line" in
            # the secrets stay out of the console log
            host-key\ *) nvmet_log "control: <- $(echo "$line" | cut -d' ' -f1-4) <secrets>" >&2 ;;
            *NVMeTLSkey-1:*) nvmet_log "control: <- $(echo "$line" | sed -E 's/NVMeTLSkey-1:[^ ]*/<key>/g')" >&2 ;;
            *) nvmet_log "control: <- $line" >&2 ;;
        esac
        # shellcheck disable=SC2086  # split the command into words (globbing is off)
        set -- $line
        cmd=$1; shift
        case "$cmd" in
        ana)
            if [ $# -ne 3 ]; then nvmet_reply "ERR usage: ana PORT GRP STATE"; continue; fi
            if ! nvmet_port_arg "$1"; then nvmet_reply "ERR no such port: $1"; continue; fi
            if [ ! -d "$NVMET/ports/$1/ana_groups/$2" ] || [ -z "$2" ]; then
                nvmet_reply "ERR no such ANA group on port $1: $2"; continue
            fi
            case " $NVMET_ANA_STATES " in
                *" $3 "*) ;;
                *) nvmet_reply "ERR bad ANA state: $3 (want one of: $NVMET_ANA_STATES)"; continue;;
            esac
            if err=$(nvmet_ana_set "$1" "$2" "$3" 2>&1 </dev/null); then
                nvmet_reply "OK ana port=$1 grp=$2 state=$(cat "$NVMET/ports/$1/ana_groups/$2/ana_state")"
            else
                nvmet_reply "ERR $err"
            fi ;;
        port-remove)
            if [ $# -ne 1 ] || ! nvmet_port_arg "$1"; then nvmet_reply "ERR usage: port-remove PORT (no such port: ${1:-})"; continue; fi
            if ! nvmet_port_linked "$1"; then nvmet_reply "ERR port $1 is not linked"; continue; fi
            if err=$(nvmet_port_remove "$1" 2>&1 </dev/null); then
                nvmet_reply "OK port-remove $1"
            else
                nvmet_reply "ERR $err"
            fi ;;
        port-add)
            if [ $# -ne 1 ] || ! nvmet_port_arg "$1"; then nvmet_reply "ERR usage: port-add PORT (no such port: ${1:-})"; continue; fi
            if nvmet_port_linked "$1"; then nvmet_reply "ERR port $1 is already linked"; continue; fi
            if err=$(nvmet_port_add "$1" 2>&1 </dev/null); then
                nvmet_reply "OK port-add $1"
            else
                nvmet_reply "ERR $err"
            fi ;;
        host-key)
            if [ $# -lt 4 ] || [ $# -gt 5 ]; then nvmet_reply "ERR usage: host-key NQN HASH DHGROUP KEY [CTRLKEY]"; continue; fi
            if err=$(nvmet_host_key "$@" 2>&1 </dev/null); then
                nvmet_reply "OK host-key $1 hash=$(cat "$NVMET/hosts/$1/dhchap_hash") dhgroup=$(cat "$NVMET/hosts/$1/dhchap_dhgroup")"
            else
                nvmet_reply "ERR $err"
            fi ;;
        host-remove)
            if [ $# -ne 1 ]; then nvmet_reply "ERR usage: host-remove NQN"; continue; fi
            if err=$(nvmet_host_remove "$1" 2>&1 </dev/null); then
                nvmet_reply "OK host-remove $1"
            else
                nvmet_reply "ERR $err"
            fi ;;
        port-tls)
            if [ $# -ne 3 ] || ! nvmet_port_arg "$1"; then nvmet_reply "ERR usage: port-tls PORT HOSTNQN KEY"; continue; fi
            if err=$(nvmet_port_tls "$@" 2>&1 </dev/null); then
                nvmet_reply "OK port-tls $1 $(echo "$err" | tail -1)"
            else
                nvmet_reply "ERR $(echo "$err" | tr '\n' ' ')"
            fi ;;
        show)
            nvmet_reply "OK $(nvmet_state_line </dev/null)" ;;
        ping)
            nvmet_reply "OK pong" ;;
        sh)
            rest=${line#sh}; rest=${rest# }
            if [ -z "$rest" ]; then nvmet_reply "ERR usage: sh CMD..."; continue; fi
            (set +f; sh -c "$rest") </dev/null >&2
            rc=$?
            nvmet_reply "OK rc=$rc" ;;
        quit)
            touch "$QUIT_FLAG"
            nvmet_reply "OK bye"
            return 0 ;;
        *)
            nvmet_reply "ERR unknown command: $cmd" ;;
        esac
    done
    nvmet_log "control: end of input without quit" >&2
    return 1
}

if [ "${1:-}" = --control ]; then
    nvmet_control_session
    exit $?
fi

rm -f "$QUIT_FLAG"
if ! nvmet_setup; then
    nvmet_show
    dmesg | tail -20
    echo "NVMET-FAILED"
    exit 1
fi
nvmet_show
echo "NVMET-READY"

rc=0
if [ -n "${CONTROL_PORT:-}" ]; then
    addr=${CONTROL_ADDR:-10.0.2.100}
    retry=${CONTROL_RETRY_SECS:-60}
    deadline=$(( $(date +%s) + retry ))
    while [ ! -e "$QUIT_FLAG" ]; do
        nvmet_log "control: connecting to $addr:$CONTROL_PORT"
        t0=$(date +%s)
        # one long-lived connection; nc execs the session with the socket on stdin/stdout
        nc "$addr" "$CONTROL_PORT" -e sh "$SELF" --control
        [ -e "$QUIT_FLAG" ] && break
        now=$(date +%s)
        # a session that lasted a while was a working channel: start the retry budget again
        [ $((now - t0)) -ge 5 ] && deadline=$((now + retry))
        if [ "$now" -ge "$deadline" ]; then
            nvmet_log "control: no working channel for ${retry}s, giving up"
            rc=3; break
        fi
        sleep 1
    done
else
    nvmet_log "no CONTROL_PORT: target stays up for ${HOLD_SECS:-600}s"
    sleep "${HOLD_SECS:-600}"
fi

nvmet_log "stopping"
echo "guest dmesg (nvmet):"
dmesg | grep -E 'nvmet' | tail -40 | sed 's/^/  /'
nvmet_show
nvmet_teardown
echo "NVMET-STOPPED rc=$rc"
exit $rc
