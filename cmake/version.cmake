# Works out sandpit's version and writes it where the build and CPack read it.
# Run at every build (cmake -P), so a new commit or an edited tree shows up in
# `sandpit --version` without reconfiguring; each file is rewritten only when
# its content changes, so an unchanged version recompiles nothing.
#   cmake -DSOURCE_DIR=... -DFALLBACK=0.1.0 -DOUT_DIR=... -P version.cmake
#
# From a git checkout, `git describe --tags --dirty` (a bare hash before the first tag):
#   v0.2.0               -> 0.2.0
#   v0.2.0-5-gabc1234    -> 0.2.0+5.gabc1234
#   v1.0.0-rc1           -> 1.0.0~rc1           (sorts before 1.0.0, as Debian wants)
#   abc1234 (no tag yet) -> FALLBACK+N.gabc1234 (N: commits on HEAD, so later builds sort later)
#   ...-dirty            -> ...+dirty or ....dirty
# Otherwise (a tarball, no git) FALLBACK, the project() version. Every result is
# a valid Debian upstream version, so the package and the binary say the same.

function(sandpit_git out)
  execute_process(COMMAND "${GIT}" -C "${SOURCE_DIR}" ${ARGN}
                  OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(rc EQUAL 0)
    set(${out} "${text}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(sandpit_version out)
  set(${out} "${FALLBACK}" PARENT_SCOPE)
  find_program(GIT git)
  if(NOT GIT)
    return()
  endif()
  # Only this project's own checkout: a tarball unpacked inside some other
  # repository must not take that repository's version.
  sandpit_git(top rev-parse --show-toplevel)
  file(REAL_PATH "${SOURCE_DIR}" source)
  if(top STREQUAL "" AND EXISTS "${SOURCE_DIR}/.git")
    message(WARNING "sandpit: git cannot read ${SOURCE_DIR} (owned by another user? see git's safe.directory); "
                    "the version is ${FALLBACK}")
  endif()
  if(top STREQUAL "" OR NOT top STREQUAL source)
    return()
  endif()
  # --long: always TAG-N-gHASH, so a tag and a bare hash (which may start with
  # a digit too) cannot be mistaken for each other.
  sandpit_git(described describe --tags --long --dirty --match "v[0-9]*" --match "[0-9]*")
  set(tagged TRUE)
  if(described STREQUAL "")  # no version tag yet
    sandpit_git(described describe --always --dirty)
    set(tagged FALSE)
  endif()
  set(dirty "")
  if(described MATCHES "^(.*)-dirty$")
    set(described "${CMAKE_MATCH_1}")
    set(dirty "dirty")
  endif()
  if(tagged AND described MATCHES "^v?([0-9][A-Za-z0-9.-]*)-([0-9]+)-g([0-9a-f]+)$")
    set(base "${CMAKE_MATCH_1}")
    set(local "")
    if(NOT CMAKE_MATCH_2 EQUAL 0)
      set(local "${CMAKE_MATCH_2}.g${CMAKE_MATCH_3}")
    endif()
  elseif(NOT tagged AND described MATCHES "^[0-9a-f]+$")
    sandpit_git(count rev-list --count HEAD)
    set(base "${FALLBACK}")
    set(local "${count}.g${described}")
  else()
    message(WARNING "sandpit: cannot read a version from `git describe` (${described}); using ${FALLBACK}")
    return()
  endif()
  string(REPLACE "-" "~" base "${base}")  # a tag's pre-release part
  string(JOIN "." local ${local} ${dirty})
  if(local STREQUAL "")
    set(${out} "${base}" PARENT_SCOPE)
  else()
    set(${out} "${base}+${local}" PARENT_SCOPE)
  endif()
endfunction()

function(sandpit_write path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${content}")
endfunction()

foreach(var SOURCE_DIR FALLBACK OUT_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "version.cmake needs -D${var}=...")
  endif()
endforeach()
sandpit_version(version)
string(CONCAT header
  "// sandpit's version, written by cmake/version.cmake at build time (do not edit).\n"
  "#pragma once\n"
  "#define SANDPIT_VERSION \"${version}\"\n")
sandpit_write("${OUT_DIR}/sandpit/core/version.hpp" "${header}")
sandpit_write("${OUT_DIR}/version.txt" "${version}\n")
