#!/bin/bash
# The in-guest suite, through the kernel's own kselftest runner: `make
# check` installs this directory as the collection net/sch_plug of a
# kselftest install (scripts/check.sh: lib.mk's `install` and `emit_tests`,
# as tools/testing/selftests' `make install` does), and this script runs
# run_kselftest.sh there, in the guest. Its output is the runner's TAP, each
# test's own KTAP nested under "# ".
#
#   tests/run-suite.sh <kselftest install> [t-name ...]
inst=$1
shift
args=(-c net/sch_plug)
if [ $# -gt 0 ]; then
	args=()
	for t in "$@"; do args+=(-t "net/sch_plug:$(basename "${t%.sh}").sh"); done
fi
# TEST_TIMEOUT: seconds per test instead of `settings`' (make stress).
[ -n "${TEST_TIMEOUT:-}" ] && args=(-o "$TEST_TIMEOUT" "${args[@]}")
cd "$inst" || exit 1
# The runner writes each test's output to its logfile, /dev/stdout, which
# virtme-ng's init links to the console port: make it this script's stdout
# again, so that the progress log below gets everything, in order.
ln -sfn /proc/self/fd/1 /dev/stdout
# The progress goes to the shared directory as it comes (progress.log,
# readable from the host while the guest runs).
./run_kselftest.sh "${args[@]}" 2>&1 | tee "${GUEST_OUT:-/tmp}/progress.log"
# run_kselftest.sh exits 0 whatever the results: the TAP is the verdict.
! grep -q '^not ok ' "${GUEST_OUT:-/tmp}/progress.log"
