# Runs one e2e script: the first line of SCRIPT is `-- args: ...`, the options
# given to `leafguard local`; the expected output is SCRIPT with .out.
file(STRINGS ${SCRIPT} first LIMIT_COUNT 1)
string(REGEX REPLACE "^-- args: *" "" args "${first}")
separate_arguments(args UNIX_COMMAND "${args}")
string(REGEX REPLACE "\\.sql$" ".out" expected_file ${SCRIPT})
execute_process(COMMAND ${LEAFGUARD} local ${args} ${SCRIPT}
                OUTPUT_VARIABLE actual ERROR_VARIABLE errors
                RESULT_VARIABLE rc)
file(READ ${expected_file} expected)
if(NOT actual STREQUAL expected)
  # Into the build tree (the test's working directory), never the sources.
  get_filename_component(name ${SCRIPT} NAME)
  set(actual_file ${CMAKE_CURRENT_BINARY_DIR}/${name}.actual)
  file(WRITE ${actual_file} "${actual}")
  message(FATAL_ERROR "output differs from ${expected_file}; actual output "
                      "written to ${actual_file}\nstderr:\n${errors}")
endif()
string(REGEX MATCH "-- exit: *([0-9]+)" m "${expected}")
file(STRINGS ${SCRIPT} lines REGEX "^-- exit:")
set(want_rc 0)
if(lines)
  string(REGEX REPLACE "^-- exit: *" "" want_rc "${lines}")
endif()
if(NOT rc EQUAL want_rc)
  message(FATAL_ERROR "exit status ${rc}, expected ${want_rc}\n${errors}")
endif()
