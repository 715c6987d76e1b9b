#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine, as root:
#   1. installs every dependency (contrib/install-deps.sh),
#   2. builds in build/ and runs `make check` (unit tests + fuzz corpus replays),
#   3. runs the integration tests (private Postfix, real Sendmail, milter protocol),
#   4. builds again in build-san/ with AddressSanitizer + UndefinedBehaviorSanitizer and
#      runs `make check` there.
# Ends with one line "N passed, N failed" over everything, and exits non-zero on any
# failure. Options: --no-sanitizers, --no-integration, --no-deps (skip step 1).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

sanitizers=1 integration=1 deps=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    --no-integration) integration=0 ;;
    --no-deps) deps=0 ;;
    *) echo "run-all.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

passed=0
failed=0
failures=()

note_fail() { failures+=("$1"); }

if [ "$deps" = 1 ]; then
  bash contrib/install-deps.sh || { echo "run-all.sh: installing dependencies failed" >&2; exit 1; }
fi

jobs=$(nproc 2>/dev/null || echo 2)

# build DIR [configure args...]
build() {
  local dir=$1
  shift
  mkdir -p "$dir"
  (cd "$dir" && "$top/configure" -q "$@" && make -j"$jobs" >/dev/null) || return 1
}

# Counts a `make check` run: gtest binaries report their own test counts, every other
# test program (fuzz corpus replays) counts as one.
count_check() {
  local dir=$1 label=$2 log trs p f
  while IFS= read -r trs; do
    log=${trs%.trs}.log
    if grep -q '^\[==========\]' "$log" 2>/dev/null; then
      p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | tail -1)
      f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) tests\{0,1\}, listed below.*/\1/p' "$log" | tail -1)
      passed=$((passed + ${p:-0}))
      failed=$((failed + ${f:-0}))
      if grep -q '^:test-result: FAIL' "$trs" && [ "${f:-0}" = 0 ]; then
        failed=$((failed + 1))  # crashed before gtest could count
      fi
    elif grep -q '^:test-result: PASS' "$trs"; then
      passed=$((passed + 1))
    elif grep -q '^:test-result: SKIP' "$trs"; then
      # A conformance suite that did not run would hide a drop below its floor: on CI
      # (../shared beside the checkout) that is a failure.
      case "$trs" in
        */tests/conformance/*)
          if [ -n "${CI:-}" ]; then
            failed=$((failed + 1))
            note_fail "$label: ${trs#"$dir"/} skipped (no ../shared/conformance?)"
          fi ;;
      esac
    else
      failed=$((failed + 1))
    fi
    if grep -q '^:test-result: FAIL' "$trs"; then
      note_fail "$label: ${trs#"$dir"/}"
    fi
  done < <(find "$dir/tests" -name '*.trs' | sort)
}

echo "== build"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
  autoreconf -fi >/dev/null 2>&1 || { echo "run-all.sh: autoreconf failed" >&2; exit 1; }
fi
if ! build build; then
  echo "run-all.sh: build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== unit tests and fuzz corpus replays"
(cd build && make -j"$jobs" check >/dev/null 2>&1)
count_check "$top/build" "check"
grep -h -A3 '^FAIL' build/test-suite.log 2>/dev/null | head -40

if [ "$integration" = 1 ]; then
  echo "== integration tests"
  export MAILWARDEN="$top/build/mailwarden" MW_BIN="$top/build/mailwarden"
  for t in tests/integration/*_test.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t" .sh)
    log="build/$name.log"
    echo "-- $name"
    timeout 900 bash "$t" >"$log" 2>&1
    rc=$?
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [ -n "$line" ]; then
      p=${line%% passed*}
      f=${line#*passed, }
      f=${f%% failed*}
      passed=$((passed + p))
      failed=$((failed + f))
    fi
    if [ "$rc" = 77 ]; then
      echo "   skipped: $(tail -1 "$log")"
    elif [ "$rc" != 0 ]; then
      [ -n "$line" ] && [ "${f:-0}" != 0 ] || failed=$((failed + 1))
      note_fail "integration: $name (exit $rc, log $log)"
      tail -30 "$log"
    else
      echo "   $line"
    fi
  done
fi

if [ "$sanitizers" = 1 ]; then
  echo "== unit tests and fuzz replays under ASan + UBSan"
  if build build-san --enable-sanitizers; then
    (cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      make -j"$jobs" check >/dev/null 2>&1)
    count_check "$top/build-san" "sanitizers"
    grep -h -A5 '^FAIL' build-san/test-suite.log 2>/dev/null | head -40
  else
    failed=$((failed + 1))
    note_fail "sanitizer build"
  fi
fi

for f in "${failures[@]+"${failures[@]}"}"; do
  echo "FAILED: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
