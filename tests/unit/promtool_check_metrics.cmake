# Pipes the output of metrics_sample (every NodeMetrics metric, after sample
# updates) into `promtool check metrics`. Fails on a non-zero exit of either
# program, on any output from promtool (lint problems are printed, errors
# also exit non-zero), on empty metrics text, and on a missing promtool: this
# check must never pass silently.
#
#   cmake -DPROMTOOL=<path or NOTFOUND> -DSAMPLE=<metrics_sample> -P promtool_check_metrics.cmake

if(NOT PROMTOOL)
  # Not found at configure time: look again, it may have been installed since.
  find_program(PROMTOOL promtool)
endif()
if(NOT PROMTOOL)
  message(FATAL_ERROR "unit.promtool_check_metrics: promtool is missing, so /metrics cannot be checked. "
                      "Install it: scripts/setup installs the `prometheus` package, which ships promtool "
                      "(on Debian: apt-get install --no-install-recommends prometheus).")
endif()

execute_process(
  COMMAND "${SAMPLE}"
  RESULT_VARIABLE sample_rc
  OUTPUT_VARIABLE metrics
  ERROR_VARIABLE sample_err)
if(NOT sample_rc EQUAL 0 OR NOT sample_err STREQUAL "")
  message(FATAL_ERROR "unit.promtool_check_metrics: ${SAMPLE} failed (exit ${sample_rc})\n${sample_err}")
endif()
string(LENGTH "${metrics}" length)
if(length EQUAL 0)
  message(FATAL_ERROR "unit.promtool_check_metrics: ${SAMPLE} printed nothing")
endif()

execute_process(
  COMMAND "${SAMPLE}"
  COMMAND "${PROMTOOL}" check metrics
  RESULTS_VARIABLE rcs
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
string(STRIP "${out}${err}" problems)
if(NOT rcs STREQUAL "0;0" OR NOT problems STREQUAL "")
  message(FATAL_ERROR "unit.promtool_check_metrics: promtool check metrics found problems "
                      "(exit codes ${rcs}):\n${problems}")
endif()
message("promtool check metrics: ${length} bytes of metrics, no problems")
