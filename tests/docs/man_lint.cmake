# Lints every man page (man/*.1, man/*.5) with `mandoc -Tlint -Wwarning`.
# Fails on any warning or error, on a missing mandoc, and when no page is
# found: this check must never pass silently.
#
#   cmake -DMANDOC=<path or NOTFOUND> -DMAN_DIR=<source>/man -P man_lint.cmake

if(NOT MANDOC)
  # Not found at configure time: look again, it may have been installed since.
  find_program(MANDOC mandoc)
endif()
if(NOT MANDOC)
  message(FATAL_ERROR "docs.man_lint: mandoc is missing, so the man pages cannot be checked. "
                      "Install it (scripts/setup installs mandoc; on Debian: apt-get install mandoc).")
endif()

file(GLOB pages "${MAN_DIR}/*.1" "${MAN_DIR}/*.5")
list(SORT pages)
list(LENGTH pages count)
if(count EQUAL 0)
  message(FATAL_ERROR "docs.man_lint: no man pages found in ${MAN_DIR}")
endif()

set(failed 0)
foreach(page ${pages})
  execute_process(
    COMMAND "${MANDOC}" -Tlint -Wwarning "${page}"
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  get_filename_component(name "${page}" NAME)
  string(STRIP "${out}${err}" messages)
  if(NOT rc EQUAL 0 OR NOT messages STREQUAL "")
    math(EXPR failed "${failed} + 1")
    message("FAIL ${name} (mandoc exit ${rc})\n${messages}")
  else()
    message("ok   ${name}")
  endif()
endforeach()

math(EXPR passed "${count} - ${failed}")
message("${passed} passed, ${failed} failed")
if(failed GREATER 0)
  message(FATAL_ERROR "docs.man_lint: ${failed} man page(s) have mandoc warnings or errors")
endif()
