# Fails when a runtime file includes a header of a layer it may not use (DESIGN §3), so a
# wrong-way dependency breaks the build instead of waiting for a review.
# Run as: cmake -DRUNTIME_DIR=... -P check_layers.cmake
cmake_minimum_required(VERSION 3.18)

set(allowed_core    core)
set(allowed_store   store core)
set(allowed_report  report store core)
set(allowed_local   local core)
set(allowed_exec    exec report store core)
set(allowed_shim    shim core)
set(layers core store report local exec shim)

set(problems "")
foreach(layer IN LISTS layers)
  file(GLOB files ${RUNTIME_DIR}/${layer}/*.h ${RUNTIME_DIR}/${layer}/*.cc)
  foreach(file IN LISTS files)
    file(STRINGS ${file} includes REGEX "^#include \"runtime/")
    foreach(line IN LISTS includes)
      string(REGEX MATCH "runtime/([a-z_]+)/" _ "${line}")
      set(target "${CMAKE_MATCH_1}")
      if(target STREQUAL "")
        list(APPEND problems "${file}: '${line}' names no runtime layer folder")
      elseif(NOT target IN_LIST allowed_${layer})
        list(APPEND problems "${file}: ${layer}/ may not include ${target}/ ('${line}')")
      endif()
    endforeach()
  endforeach()
endforeach()

if(problems)
  list(JOIN problems "\n  " text)
  message(FATAL_ERROR "runtime layering broken:\n  ${text}")
endif()
