# Uniform target helpers (abseil's absl_cc_* idea): one place sets includes, links and test registration.

# DEPS are what the module's public headers need (other modules, nlohmann/json where a header returns JSON);
# PRIVATE_DEPS are what only its sources use (SQLite, libmosquitto, Beast, fastText, …), so they do not leak into
# the modules above. scripts/check_layers.py checks which modules may include which.
function(cb_add_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(cb_${name} ${ARG_SRCS})
  add_library(citybrain::${name} ALIAS cb_${name})
  target_include_directories(cb_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(cb_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# Unit tests live next to the code; CB_DATA_DIR lets dataset tests find ../shared/data (they skip when absent).
function(cb_add_test name)
  cmake_parse_arguments(ARG "" "TEST_PREFIX" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE CB_DATA_DIR="${CB_DATA_DIR}" CB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  include(GoogleTest)
  # TEST_PREFIX names a module's ctest entries as a family (`ctest -R '^vault'`).
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 TEST_PREFIX "${ARG_TEST_PREFIX}" PROPERTIES LABELS "${ARG_LABELS}")
endfunction()

# Benchmarks are registered in ctest with a minimal run so they never rot (userver).
function(cb_add_benchmark name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} benchmark::benchmark)
  target_compile_definitions(${name} PRIVATE CB_DATA_DIR="${CB_DATA_DIR}" CB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME ${name}_smoke COMMAND ${name} --benchmark_min_time=0 --benchmark_filter=Smoke)
endfunction()

function(cb_add_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# Each public header compiles on its own (it includes what it uses): one generated .cpp per header, built by the
# check-headers target (not part of `all`; `make test` builds it).
function(cb_add_header_check)
  file(GLOB_RECURSE _headers RELATIVE ${PROJECT_SOURCE_DIR}/src CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/*.hpp)
  set(_srcs)
  foreach(_h ${_headers})
    string(REPLACE "/" "__" _stem "${_h}")
    string(REPLACE ".hpp" ".cpp" _stem "${_stem}")
    set(_cpp ${CMAKE_BINARY_DIR}/check_headers/${_stem})
    file(CONFIGURE OUTPUT ${_cpp} CONTENT "#include \"${_h}\"\n#include \"${_h}\"  // and twice: the include guard\n")
    list(APPEND _srcs ${_cpp})
  endforeach()
  add_library(check_headers OBJECT EXCLUDE_FROM_ALL ${_srcs})
  target_link_libraries(check_headers PRIVATE ${ARGN})
  add_custom_target(check-headers DEPENDS check_headers)
endfunction()
