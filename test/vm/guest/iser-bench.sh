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
  [[ $target == iser ]] && c0=$(tgtd_cpu)
  fio --name="$job" --filename="$dev" --rw="$rw" --bs="$bs" --size="$((ISER_MIB / 2))M" --ioengine=libaio \
    --iodepth="$QD" --direct=1 --time_based --runtime="$SECS" --ramp_time=1 \
    --output-format=json --output="/tmp/fio-$target-$job.json" >&2 || fail "fio $job on $target failed"
  [[ $target == iser ]] && { c1=$(tgtd_cpu); cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }'); }
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
for r in $(seq "$ROUNDS"); do
  if ((r % 2 == 1)); then step "round-$r" bench_round iser lio; else step "round-$r" bench_round lio iser; fi
done
iscsiadm -m node -T "$IQN_ISER" -p "$PORTAL" -I iser --logout >&2
lio_logout
# A profile (STGT_NODE_FLAGS=--cpu-prof) is written when tgtd exits.
kill "$tgtd_pid"
for _ in $(seq 60); do kill -0 "$tgtd_pid" 2>/dev/null || break; sleep 0.5; done
echo "BENCH DONE"
