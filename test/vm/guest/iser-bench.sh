# Guest: iSER speed, stgt's iser LLD against LIO + ib_isert in one boot (bench/iser-vm.mjs; never part of npm test)
# Sourced by runWithGuestTarget's script (guest-target.ts). Each round runs the same time-based fio jobs
# (direct, libaio) on stgt's disk, then on LIO's (the order alternates per round).
# Environment: IQN_ISER, IQN_LIO, LIO_PORT, ISER_MIB, ROUNDS, SECS, QD, JOBS (space-separated of
# rand4k-read rand4k-write seq1m-read seq1m-write). Prints `FIO <target> <job> rw=.. bs=.. iops=.. bw_kib=.. err=..
# cpu_s=<tgtd CPU seconds during the job, stgt only>` lines.
: "${IQN_ISER:?}" "${IQN_LIO:?}" "${LIO_PORT:?}" "${ISER_MIB:?}" "${ROUNDS:?}" "${SECS:?}" "${QD:?}" "${JOBS:?}"
source /mnt/repo/test/vm/guest/lio-lib.sh

stgt_setup() {
  truncate -s "${ISER_MIB}M" /tmp/lun-iser.img
  tgtadm --lld iser --mode target --op new --tid 1 --targetname "$IQN_ISER"
  tgtadm --lld iser --mode logicalunit --op new --tid 1 --lun 1 --backing-store /tmp/lun-iser.img
  tgtadm --lld iser --mode target --op bind --tid 1 --initiator-address ALL
  iscsiadm -m node -o new -T "$IQN_ISER" -p "$PORTAL" -I iser >/dev/null
  iscsiadm -m node -T "$IQN_ISER" -p "$PORTAL" -I iser --login >&2
  wait_disks "$IQN_ISER" 1 >/tmp/dev-iser
}

# CPU seconds (user + system) tgtd has used so far.
tgtd_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$tgtd_pid/stat"
}

# Per-thread CPU ticks of tgtd: "tid comm utime stime" lines.
thread_ticks() {
  local t
  for t in /proc/$tgtd_pid/task/*; do
    awk -v tid="${t##*/}" -v comm="$(tr ' ' _ <"$t/comm")" '{ print tid, comm, $14, $15 }' "$t/stat"
  done
}

# THREADS <label> <comm>:<user ticks>+<system ticks>... over what ran since the snapshot in $1.
thread_delta() {
  thread_ticks | awk -v label="$2" 'NR == FNR { u[$1] = $3; s[$1] = $4; next }
    { du = $3 - u[$1]; ds = $4 - s[$1]; if (du + ds > 0) out = out sprintf(" %s:%d+%d", $2, du, ds) }
    END { print "THREADS " label out }' "$1" -
}

# SAMPLE=1: while a job runs, what each tgtd thread is doing (/proc/<tid>/syscall: a syscall
# number, or "running" in user space), sampled; printed as "SAMPLES <job> <comm>/<tid>: <what>=<n>...".
sample_threads() {
  local job=$1 t
  : >/tmp/samples
  while [[ -e /tmp/sampling ]]; do
    for t in /proc/$tgtd_pid/task/*; do
      echo "${t##*/} $(cut -d' ' -f1 "$t/syscall" 2>/dev/null)" >>/tmp/samples
    done
    sleep 0.02
  done
  awk -v job="$job" '{ n[$1 " " $2]++ } END { for (k in n) { split(k, a, " "); out[a[1]] = out[a[1]] " " a[2] "=" n[k] } for (t in out) print "SAMPLES " job " " t ":" out[t] }' /tmp/samples
}

bench_job() {
  local target=$1 job=$2 rw bs dev c0 c1 cpu=
  case $job in
    rand4k-read) rw=randread bs=4k ;;
    rand4k-write) rw=randwrite bs=4k ;;
    seq1m-read) rw=read bs=1M ;;
    seq1m-write) rw=write bs=1M ;;
    *) fail "unknown job $job" ;;
  esac
  dev=$(cat "/tmp/dev-$target")
  [[ $target == iser ]] && { c0=$(tgtd_cpu); thread_ticks >/tmp/ticks0; }
  if [[ $target == iser && ${PERF:-} == 1 ]]; then
    perf record -g -F 199 -o "/mnt/ctl/perf-$job.data" -p "$tgtd_pid" -- sleep "$SECS" >/dev/null 2>&1 &
  fi
  if [[ $target == iser && ${SAMPLE:-} == 1 ]]; then touch /tmp/sampling; sample_threads "$job" >/tmp/sample-out & fi
  fio --name="$job" --filename="$dev" --rw="$rw" --bs="$bs" --size="$((ISER_MIB / 2))M" --ioengine=libaio \
    --iodepth="$QD" --direct=1 --time_based --runtime="$SECS" --ramp_time=1 \
    --output-format=json --output="/tmp/fio-$target-$job.json" >&2 || fail "fio $job on $target failed"
  if [[ -e /tmp/sampling ]]; then rm -f /tmp/sampling; wait; cat /tmp/sample-out; fi
  if [[ $target == iser && ${PERF:-} == 1 ]]; then
    wait
    perf report -i "/mnt/ctl/perf-$job.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -n 1,60p |
      sed "s/^/PERF $job /"
    perf report -i "/mnt/ctl/perf-$job.data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | sed -n 1,20p |
      sed "s/^/PERFDSO $job /"
  fi
  [[ $target == iser ]] && { c1=$(tgtd_cpu); cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }'); thread_delta /tmp/ticks0 "$job"; }
  node -e '
    const [target, job, rw, bs, cpu] = process.argv.slice(1);
    const j = JSON.parse(require("fs").readFileSync(`/tmp/fio-${target}-${job}.json`, "utf8")).jobs[0];
    const d = j.write.io_bytes > 0 ? j.write : j.read;
    console.log(`FIO ${target} ${job} rw=${rw} bs=${bs} iops=${Math.round(d.iops)} bw_kib=${d.bw} err=${j.error}` + (cpu ? ` cpu_s=${cpu}` : ""));' \
    "$target" "$job" "$rw" "$bs" "$cpu"
}

bench_round() {
  local first=$1 second=$2 job
  for job in $JOBS; do
    bench_job "$first" "$job"
    bench_job "$second" "$job"
  done
}

# SCHED=batch: tgtd's threads under SCHED_BATCH (no wakeup preemption between its threads).
if [[ ${SCHED:-} == batch ]]; then chrt -b -a -p 0 "$tgtd_pid" >&2 && chrt -p "$tgtd_pid" >&2; fi
step stgt-setup stgt_setup
step lio-setup lio_setup
step lio-login lio_login
# What tgtd costs with a session logged in and nothing to do.
thread_ticks >/tmp/ticks0; sleep 5; thread_delta /tmp/ticks0 idle-5s
for r in $(seq "$ROUNDS"); do
  if ((r % 2 == 1)); then step "round-$r" bench_round iser lio; else step "round-$r" bench_round lio iser; fi
done
iscsiadm -m node -T "$IQN_ISER" -p "$PORTAL" -I iser --logout >&2
lio_logout
# A profile (STGT_NODE_FLAGS=--cpu-prof) is written when tgtd exits.
kill "$tgtd_pid"
for _ in $(seq 60); do kill -0 "$tgtd_pid" 2>/dev/null || break; sleep 0.5; done
echo "BENCH DONE"
