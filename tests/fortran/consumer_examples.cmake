# ctest fortran.consumer_examples (cmake -P): install the built hybridge into a fresh prefix,
# MOVE the prefix elsewhere, then build and run examples/01_mlp_forward (Fortran) and
# examples/02_c_consumer (C) against the moved tree, the three ways a climate model's build
# does it: CMake (find_package), a plain Makefile given the prefix, a Makefile asking
# pkg-config. Nothing points at libtorch, MPI or the build tree, and the programs run
# without LD_LIBRARY_PATH.
# Inputs: BUILD_DIR SOURCE_DIR WORK_DIR MODEL Fortran_COMPILER C_COMPILER MAKE_PROGRAM.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR MODEL Fortran_COMPILER C_COMPILER MAKE_PROGRAM)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "consumer_examples.cmake needs -D${var}=...")
  endif()
endforeach()

# run(<what> <command...>): runs the command, stops with its output when it fails, and
# leaves its standard output in last_output.
function(run what)
  execute_process(
    COMMAND ${ARGN}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(installed ${WORK_DIR}/installed)
set(prefix ${WORK_DIR}/moved/hybridge)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${installed})
file(MAKE_DIRECTORY ${WORK_DIR}/moved)
file(RENAME ${installed} ${prefix})
set(hybridge_dir ${prefix}/lib/cmake/hybridge)
foreach(f ${hybridge_dir}/hybridgeConfig.cmake ${prefix}/lib/pkgconfig/hybridge.pc)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()

# The environment of a consumer: nothing points at libtorch or the build tree.
set(clean_env ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=CMAKE_PREFIX_PATH
              --unset=PKG_CONFIG_PATH)
foreach(example 01_mlp_forward:mlp_forward:Fortran 02_c_consumer:c_consumer:C)
  string(REPLACE ":" ";" parts ${example})
  list(GET parts 0 dir)
  list(GET parts 1 exe)
  list(GET parts 2 lang)
  # 1. CMake
  set(bin ${WORK_DIR}/cmake/${dir})
  run("configure ${dir}"
      ${clean_env}
      ${CMAKE_COMMAND}
      -S
      ${SOURCE_DIR}/examples/${dir}
      -B
      ${bin}
      -DCMAKE_BUILD_TYPE=Release
      -Dhybridge_DIR=${hybridge_dir}
      -DCMAKE_Fortran_COMPILER=${Fortran_COMPILER}
      -DCMAKE_C_COMPILER=${C_COMPILER})
  run("build ${dir}" ${clean_env} ${CMAKE_COMMAND} --build ${bin})
  run("run ${exe} (CMake)" ${clean_env} ${bin}/${exe} ${MODEL})
  message(STATUS "${dir} (CMake): ${last_output}")
  # 2. the example's plain Makefile: 01 is given the prefix, 02 asks pkg-config
  set(bin ${WORK_DIR}/make/${dir})
  file(MAKE_DIRECTORY ${bin})
  if(lang STREQUAL "Fortran")
    set(make_env)
    set(how "HYBRIDGE_PREFIX=${prefix}" "FC=${Fortran_COMPILER}")
  else()
    set(make_env "PKG_CONFIG_PATH=${prefix}/lib/pkgconfig")
    set(how "CC=${C_COMPILER}")
  endif()
  run("make ${dir}"
      ${clean_env}
      ${make_env}
      ${MAKE_PROGRAM}
      -C
      ${bin}
      -f
      ${SOURCE_DIR}/examples/${dir}/Makefile
      VPATH=${SOURCE_DIR}/examples/${dir}
      ${how})
  run("run ${exe} (Makefile)" ${clean_env} ${bin}/${exe} ${MODEL})
  message(STATUS "${dir} (Makefile, ${make_env} ${how}): ${last_output}")
endforeach()
