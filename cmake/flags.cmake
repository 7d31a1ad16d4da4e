# Compiler warnings, hardening and optional sanitizers, applied per target.
set(SANDPIT_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
    -Wcast-align -Wunused -Woverloaded-virtual -Wnull-dereference -Wformat=2)
set(SANDPIT_HARDENING -fstack-protector-strong -fstack-clash-protection
    -fcf-protection -D_GLIBCXX_ASSERTIONS)
if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug" AND NOT SANDPIT_SANITIZE)
  list(APPEND SANDPIT_HARDENING -D_FORTIFY_SOURCE=2)
endif()

function(sandpit_apply_flags target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${SANDPIT_WARNINGS}> ${SANDPIT_HARDENING})
  if(SANDPIT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    target_link_options(${target} PRIVATE -Wl,-z,relro,-z,now -Wl,--as-needed)
    if(NOT SANDPIT_STATIC)
      target_link_options(${target} PRIVATE -pie)
    endif()
  endif()
  if(SANDPIT_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()
