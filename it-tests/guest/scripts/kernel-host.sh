# kernel-host.sh - guest payload: the Linux kernel NVMe/TCP HOST (nvme_tcp, native multipath)
# with a fixed host identity, driven by the host through a control channel that runs shell
# commands in the guest and returns their output (KernelHostGuest on the Java side).
#
# The guest reaches NVMe/TCP targets on the host through run.sh GUESTFWD entries: a connect to
# 10.0.2.100:GPORT is joined (socat) to host 127.0.0.1:HPORT. So `nvme connect -t tcp
# -a 10.0.2.100 -s GPORT` reaches whatever target listens on host port HPORT.
#
# Environment (run.sh GUEST_ENV):
#   CONTROL_PORT        port on CONTROL_ADDR that the guest connects to for commands; the
#                       host maps it with run.sh GUESTFWD="CONTROL_PORT:HOSTPORT". Unset:
#                       no control channel, the host stays up for HOLD_SECS.
#   CONTROL_ADDR        default 10.0.2.100 (run.sh's GUESTFWD_ADDR)
#   CONTROL_TOKEN       echoed in the HELLO line, so the host knows it talks to its own guest
#   CONTROL_RETRY_SECS  give up (exit 3) after this long without a working channel (default 60)
#   HOST_NQN, HOST_ID   the host identity (defaults below; fixed, so that every connect of
#                       this guest uses the same one and multipath groups the paths)
#   NVME_IOPOLICY       optional nvme_core iopolicy module parameter (numa|round-robin)
#   HOLD_SECS           without CONTROL_PORT: seconds to stay up (default 600)
#
# Console markers: KERNEL-HOST-READY (modules loaded, identity set), KERNEL-HOST-FAILED,
# KERNEL-HOST-STOPPED. Exit 0 after "quit", 1 when the set-up failed, 3 when the channel was lost.
#
# Control protocol (one TCP connection, opened by the guest, kept for the whole run):
#   guest -> host, once:  HELLO kernel-host token=<CONTROL_TOKEN>
#   host -> guest:        one command per line. Each answer is zero or more output lines, each
#                         prefixed "| ", then exactly one final line (RC, TIMEOUT, OK or ERR).
#     sh [-t SECS] CMD    run CMD with sh -c (stdin /dev/null, stdout+stderr captured):
#                         "| line"... then "RC <exit code>". With -t, CMD (its whole process
#                         group) is killed after SECS: "| partial output"... "TIMEOUT SECS".
#     bg NAME CMD         start CMD in the background, output to /tmp/jobs/NAME.log:
#                         "OK bg NAME pid=PID" (ERR when NAME is running already)
#     wait NAME [SECS]    wait for job NAME: "| log"... "RC <exit code>"; after SECS without
#                         an end: "| log so far"... "TIMEOUT SECS" (the job keeps running)
#     kill NAME           SIGKILL to the job's process group: "OK kill NAME" (then wait it)
#     ping                OK pong
#     quit                OK bye; the payload disconnects all controllers and exits 0
#   Output is stripped of CR (so a Java readLine cannot split a line). NAME: [A-Za-z0-9._-]+.
# With "sh SCRIPT --control" the script serves one such session on stdin/stdout (busybox
# nc -e runs it that way; run.sh installs the payload as /payload/script.sh).

SELF=$0
QUIT_FLAG=/run/kernel-host.quit
JOBS=/tmp/jobs
WORK=/tmp/kh
HOST_NQN=${HOST_NQN:-nqn.2014-08.org.nvmexpress:uuid:6e766d70-686f-4000-8000-000000000001}
HOST_ID=${HOST_ID:-6e766d70-686f-4000-8000-000000000001}
# console lines of a command's output logged per answer (the answer itself is never cut)
LOG_LINES=${LOG_LINES:-40}

kh_log() { echo "== [$(cut -d' ' -f1 /proc/uptime)s] $*"; }

kh_reply() {
    echo "$*"
    kh_log "control: -> $*" >&2
}

# kh_output FILE: FILE's lines as "| line" on stdout (CR dropped, a missing final newline
# added); the first LOG_LINES of them also go to the console
kh_output() {
    awk -v max="$LOG_LINES" '{ gsub(/\r/, ""); print "| " $0; if (NR <= max) print "   | " $0 | "cat 1>&2" }
        END { if (NR > max) print "   | ... (" NR " lines)" | "cat 1>&2" }' "$1"
}

kh_name_ok() {
    case "$1" in ''|*[!A-Za-z0-9._-]*) return 1;; esac
    return 0
}

# kh_run SECS CMD: run CMD in its own session (process group) with output to $WORK/out,
# at most SECS seconds (0: no limit). Sets KH_RC and KH_TIMEDOUT (1 when it was killed).
kh_run() {
    local secs=$1 cmd=$2 pid wd="" mark
    setsid sh -c "$cmd" >"$WORK/out" 2>&1 </dev/null &
    pid=$!
    # the watchdog's mark is this command's own: a watchdog that outlived its command (below)
    # could otherwise time out whatever command runs when it fires
    mark="$WORK/timeout.$pid"
    rm -f "$mark"
    if [ "$secs" -gt 0 ]; then
        # watchdog: kill the command's group at the deadline; if wait still does not return
        # (a process stuck in the kernel, e.g. I/O on a path-less multipath device), interrupt
        # the session's wait with SIGUSR1 so that the answer comes anyway
        setsid sh -c "sleep $secs; touch $mark; kill -KILL -$pid 2>/dev/null; sleep 3; kill -USR1 $$" \
            </dev/null >/dev/null 2>&1 &
        wd=$!
    fi
    while :; do
        wait "$pid"
        KH_RC=$?
        kill -0 "$pid" 2>/dev/null || break      # reaped: KH_RC is its exit status
        [ -e "$mark" ] && break                  # interrupted by the watchdog
    done
    # the watchdog's group, and the watchdog itself in case it has not called setsid yet (a command
    # that ends at once gets here first: killing the group alone missed it, and it fired later)
    if [ -n "$wd" ]; then
        kill -KILL -"$wd" 2>/dev/null
        kill -KILL "$wd" 2>/dev/null
    fi
    KH_TIMEDOUT=0
    [ -e "$mark" ] && KH_TIMEDOUT=1
    rm -f "$mark"
    return 0
}

kh_control_session() {
    local line cmd rest cr secs name pid i n
    cr=$(printf '\r')
    mkdir -p "$JOBS" "$WORK"
    trap ':' USR1
    set -f
    echo "HELLO kernel-host token=${CONTROL_TOKEN:-}"
    while IFS= read -r line; do
        line=${line%"$cr"}
        [ -n "$line" ] || continue
        # NVMe secrets (DHHC-1:..., NVMeTLSkey-1:...) stay out of the console log
        case "$line" in
            *DHHC-1:*|*NVMeTLSkey-1:*)
                kh_log "control: <- $(echo "$line" | sed -E 's/(DHHC-1|NVMeTLSkey-1):[^ ]*/\1:<secret>/g')" >&2 ;;
            *) kh_log "control: <- $line" >&2 ;;
        esac
        # shellcheck disable=SC2086  # split the command into words (globbing is off)
        set -- $line
        cmd=$1; shift
        case "$cmd" in
        sh)
            rest=${line#sh}; rest=${rest#"${rest%%[! ]*}"}     # (drop leading blanks)
            secs=0
            if [ "${1:-}" = -t ]; then
                secs=${2:-}
                case "$secs" in ''|*[!0-9]*) kh_reply "ERR usage: sh [-t SECS] CMD..."; continue;; esac
                rest=${rest#-t}; rest=${rest#"${rest%%[! ]*}"}
                rest=${rest#"$secs"}; rest=${rest#"${rest%%[! ]*}"}
            fi
            if [ -z "$rest" ]; then kh_reply "ERR usage: sh [-t SECS] CMD..."; continue; fi
            # in this shell, not a subshell: the watchdog's SIGUSR1 must reach the shell that waits
            # (CMD gets its own sh, so "set -f" here does not affect its globbing)
            kh_run "$secs" "$rest"
            kh_output "$WORK/out"
            if [ "$KH_TIMEDOUT" = 1 ]; then kh_reply "TIMEOUT $secs"; else kh_reply "RC $KH_RC"; fi ;;
        bg)
            name=${1:-}
            rest=${line#bg}; rest=${rest#"${rest%%[! ]*}"}
            rest=${rest#"$name"}; rest=${rest#"${rest%%[! ]*}"}
            if ! kh_name_ok "$name" || [ -z "$rest" ]; then kh_reply "ERR usage: bg NAME CMD... (NAME: [A-Za-z0-9._-]+)"; continue; fi
            if [ -e "$JOBS/$name.pid" ] && [ ! -e "$JOBS/$name.rc" ]; then
                kh_reply "ERR job $name is running"; continue
            fi
            rm -f "$JOBS/$name.pid" "$JOBS/$name.rc" "$JOBS/$name.log"
            # the job runs in its own session; the subshell records its pid and exit code
            (setsid sh -c "$rest" >"$JOBS/$name.log" 2>&1 </dev/null &
             echo $! > "$JOBS/$name.pid"
             wait $!
             echo $? > "$JOBS/$name.rc.tmp"; mv "$JOBS/$name.rc.tmp" "$JOBS/$name.rc") </dev/null >/dev/null 2>&1 &
            i=0
            while [ ! -s "$JOBS/$name.pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
            kh_reply "OK bg $name pid=$(cat "$JOBS/$name.pid" 2>/dev/null)" ;;
        wait)
            name=${1:-}; secs=${2:-0}
            if ! kh_name_ok "$name" || [ $# -gt 2 ]; then kh_reply "ERR usage: wait NAME [SECS]"; continue; fi
            case "$secs" in ''|*[!0-9]*) kh_reply "ERR usage: wait NAME [SECS]"; continue;; esac
            if [ ! -e "$JOBS/$name.pid" ]; then kh_reply "ERR no job $name"; continue; fi
            # poll: 5 times a second, a deadline from the guest's clock (0: no limit)
            n=$(( $(cut -d. -f1 /proc/uptime) + secs ))
            while [ ! -e "$JOBS/$name.rc" ]; do
                [ "$secs" -gt 0 ] && [ "$(cut -d. -f1 /proc/uptime)" -ge "$n" ] && break
                sleep 0.2
            done
            kh_output "$JOBS/$name.log"
            if [ -e "$JOBS/$name.rc" ]; then kh_reply "RC $(cat "$JOBS/$name.rc")"; else kh_reply "TIMEOUT $secs"; fi ;;
        kill)
            name=${1:-}
            if ! kh_name_ok "$name" || [ ! -s "$JOBS/$name.pid" ]; then kh_reply "ERR no job ${name}"; continue; fi
            if [ -e "$JOBS/$name.rc" ]; then kh_reply "OK kill $name (had ended)"; continue; fi
            pid=$(cat "$JOBS/$name.pid")
            kill -KILL -"$pid" 2>/dev/null
            kh_reply "OK kill $name" ;;
        ping)
            kh_reply "OK pong" ;;
        quit)
            touch "$QUIT_FLAG"
            kh_reply "OK bye"
            return 0 ;;
        *)
            kh_reply "ERR unknown command: $cmd" ;;
        esac
    done
    kh_log "control: end of input without quit" >&2
    return 1
}

if [ "${1:-}" = --control ]; then
    kh_control_session
    exit $?
fi

# ---- set-up: host identity, nvme_core with native multipath, nvme_tcp
kh_setup() {
    local mp
    mkdir -p /etc/nvme "$JOBS" "$WORK"
    echo "$HOST_NQN" > /etc/nvme/hostnqn
    echo "$HOST_ID" > /etc/nvme/hostid
    # modprobe by full path: busybox sh runs its own applet in preference to PATH
    if [ -d /sys/module/nvme_core ]; then
        kh_log "nvme_core is loaded already: its parameters stay as they are"
    elif ! /usr/sbin/modprobe nvme_core multipath=Y ${NVME_IOPOLICY:+iopolicy=$NVME_IOPOLICY}; then
        echo "modprobe nvme_core failed"; return 1
    fi
    mp=$(cat /sys/module/nvme_core/parameters/multipath 2>/dev/null)
    [ "$mp" = Y ] || { echo "nvme_core multipath=$mp (want Y)"; return 1; }
    /usr/sbin/modprobe nvme_tcp || { echo "modprobe nvme_tcp failed"; return 1; }
    [ -c /dev/nvme-fabrics ] || { echo "no /dev/nvme-fabrics"; return 1; }
    kh_log "nvme_core multipath=$mp iopolicy=$(cat /sys/module/nvme_core/parameters/iopolicy 2>/dev/null)" \
        "hostnqn=$(cat /etc/nvme/hostnqn) hostid=$(cat /etc/nvme/hostid)"
    return 0
}

rm -f "$QUIT_FLAG"
if ! kh_setup; then
    dmesg | tail -20
    echo "KERNEL-HOST-FAILED"
    exit 1
fi
echo "KERNEL-HOST-READY hostnqn=$HOST_NQN"

rc=0
if [ -n "${CONTROL_PORT:-}" ]; then
    addr=${CONTROL_ADDR:-10.0.2.100}
    retry=${CONTROL_RETRY_SECS:-60}
    deadline=$(( $(date +%s) + retry ))
    while [ ! -e "$QUIT_FLAG" ]; do
        kh_log "control: connecting to $addr:$CONTROL_PORT"
        t0=$(date +%s)
        # one long-lived connection; nc execs the session with the socket on stdin/stdout
        nc "$addr" "$CONTROL_PORT" -e sh "$SELF" --control
        [ -e "$QUIT_FLAG" ] && break
        now=$(date +%s)
        # a session that lasted a while was a working channel: start the retry budget again
        [ $((now - t0)) -ge 5 ] && deadline=$((now + retry))
        if [ "$now" -ge "$deadline" ]; then
            kh_log "control: no working channel for ${retry}s, giving up"
            rc=3; break
        fi
        sleep 1
    done
else
    kh_log "no CONTROL_PORT: the host stays up for ${HOLD_SECS:-600}s"
    sleep "${HOLD_SECS:-600}"
fi

kh_log "stopping"
for j in "$JOBS"/*.pid; do
    [ -s "$j" ] || continue
    [ -e "${j%.pid}.rc" ] || { kh_log "killing job $(basename "${j%.pid}")"; kill -KILL -"$(cat "$j")" 2>/dev/null; }
done
echo "controllers:"
for c in /sys/class/nvme/nvme*; do
    [ -e "$c/state" ] && echo "  $(basename "$c"): $(cat "$c/transport") $(cat "$c/address") state=$(cat "$c/state")"
done
nvme disconnect-all 2>&1 | sed 's/^/  /'
echo "guest dmesg (nvme):"
dmesg | grep -E 'nvme' | tail -40 | sed 's/^/  /'
echo "KERNEL-HOST-STOPPED rc=$rc"
exit $rc
