#!/usr/bin/env bash
# sv_test_summary: reads `swift test` output (XCTest) on standard input and prints one line,
# `N passed, N failed, N skipped`. Sourced by scripts/test.sh; tested by ScriptTests.
#
# XCTest's closing line takes these forms (swift-corelibs-xctest's PrintObserver):
#   Executed 1 test, with 0 failures (0 unexpected) in 0.1 (0.1) seconds
#   Executed 562 tests, with 1 test skipped and 0 failures (0 unexpected) in ...
#   Executed 9 tests, with 2 tests skipped and 1 failure (0 unexpected) in ...
# Its failure count is of failed assertions, not tests (a test can fail three times), so
# failed tests are counted from their own `Test Case '...' failed (` lines. The last closing
# line is the outermost suite's. Without one (the test process crashed) the counts come from the
# `Test Case` lines alone. Skipped tests are counted as skipped, never as failed.
sv_test_summary() {
  local log closing executed=0 skipped=0 failures=0 failed passed
  log=$(cat)
  closing=$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with ' <<<"$log" | tail -n 1 || true)
  failed=$(grep -cE "^Test Case '[^']*' failed \(" <<<"$log" || true)
  if [[ $closing =~ Executed\ ([0-9]+)\ tests?,\ with\ (([0-9]+)\ tests?\ skipped\ and\ )?([0-9]+)\ failures? ]]; then
    executed=${BASH_REMATCH[1]}
    skipped=${BASH_REMATCH[3]:-0}
    failures=${BASH_REMATCH[4]}
    # Failures outside any test case (a suite's set-up) have no `failed` line: count one.
    if (( failures > 0 && failed == 0 )); then failed=1; fi
    passed=$((executed - skipped - failed))
  else
    passed=$(grep -cE "^Test Case '[^']*' passed \(" <<<"$log" || true)
    skipped=$(grep -cE "^Test Case '[^']*' skipped \(" <<<"$log" || true)
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
}
