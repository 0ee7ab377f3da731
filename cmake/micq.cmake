# Declarative target helpers, in the vocabulary of abseil's absl_cc_library
# (CMake/AbseilHelpers.cmake):
#
#   micq_cc_library(NAME redis
#     HDRS include/micq/redis/client.h ...   # the public headers
#     SRCS client.cpp ...                    # none: a header-only library
#     COPTS -mavx2                           # compile options of this target only
#     DEPS micq::asio                        # used in the public headers: PUBLIC
#     PRIVATE_DEPS PkgConfig::HIREDIS        # used in the sources only: PRIVATE
#     [TESTONLY])                            # a helper for tests
#   -> target micq_redis, alias micq::redis
#
#   micq_cc_test(NAME redis_client_test SRCS client_test.cpp DEPS micq::redis
#                [LABELS concurrency] [TIMEOUT 120])
#   micq_cc_benchmark(NAME x_benchmark SRCS x_benchmark.cpp DEPS micq::x)
#
# Include paths: a library's public headers sit under its include/ folder
# (#include "micq/redis/client.h"), found once a target depends on it. The
# headers of the services, which have no include folder (no HDRS), are
# included by their path from the project root (#include
# "services/sim/record.h"), which each such library carries; within its own
# folder a file names a header by itself ("page.h"). Nothing is included
# with "../", and no target adds include paths of its own.
#
# Depend on a library by its alias (micq::redis): a misspelt alias is a
# configure error, where a misspelt plain name would become "-lmicq_rdis"
# at link time.

function(micq_cc_library)
  cmake_parse_arguments(ARG "TESTONLY" "NAME" "HDRS;SRCS;COPTS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target micq_${ARG_NAME})
  if(ARG_SRCS)
    add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
    set(scope PUBLIC)
  else()
    add_library(${target} INTERFACE ${ARG_HDRS})
    set(scope INTERFACE)
    if(ARG_PRIVATE_DEPS OR ARG_COPTS)
      message(FATAL_ERROR "${target}: a header-only library has no PRIVATE_DEPS or COPTS")
    endif()
  endif()
  add_library(micq::${ARG_NAME} ALIAS ${target})
  # The public headers' folder, from the headers listed: include/micq/<x>/...
  foreach(header IN LISTS ARG_HDRS)
    if(NOT header MATCHES "^include/micq/")
      message(FATAL_ERROR "${target}: public header ${header} is not under include/micq/")
    endif()
  endforeach()
  if(ARG_HDRS)
    target_include_directories(${target} ${scope} ${CMAKE_CURRENT_SOURCE_DIR}/include)
  else()
    # A service's library: its headers are found from the project root.
    target_include_directories(${target} ${scope} ${PROJECT_SOURCE_DIR})
  endif()
  target_link_libraries(${target} ${scope} ${ARG_DEPS})
  if(ARG_PRIVATE_DEPS)
    target_link_libraries(${target} PRIVATE ${ARG_PRIVATE_DEPS})
  endif()
  if(ARG_COPTS)
    target_compile_options(${target} PRIVATE ${ARG_COPTS})
  endif()
  # A test helper is built only for the tests that link it, never by
  # `cmake --build --target micq` or as part of a plain build's "all".
  if(ARG_TESTONLY)
    set_target_properties(${target} PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endfunction()

function(micq_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${ARG_NAME} PROPERTIES TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
  # TSan builds only what this target gathers: the concurrency tests.
  if("concurrency" IN_LIST ARG_LABELS)
    add_dependencies(micq_concurrency_tests ${ARG_NAME})
  endif()
endfunction()

function(micq_cc_benchmark)
  if(NOT MICQ_BUILD_BENCHMARKS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark benchmark::benchmark_main)
endfunction()
