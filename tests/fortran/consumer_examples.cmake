# ctest fortran.consumer_examples (cmake -P): install the built hybridge into a fresh
# prefix, then configure, build and run examples/01_mlp_forward (Fortran) and
# examples/02_c_consumer (C) against it, as a climate model's own build would:
# only hybridge_DIR is given (no Torch or MPI prefix), and they run without
# LD_LIBRARY_PATH.
# Inputs: BUILD_DIR SOURCE_DIR WORK_DIR MODEL Fortran_COMPILER C_COMPILER.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR MODEL Fortran_COMPILER C_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "consumer_examples.cmake needs -D${var}=...")
  endif()
endforeach()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
file(GLOB_RECURSE config ${prefix}/*/hybridgeConfig.cmake)
if(NOT config)
  message(FATAL_ERROR "no hybridgeConfig.cmake under ${prefix}")
endif()
get_filename_component(hybridge_dir ${config} DIRECTORY)

# The environment of a consumer: nothing points at libtorch or the build tree.
set(clean_env ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=CMAKE_PREFIX_PATH)
foreach(example 01_mlp_forward:mlp_forward 02_c_consumer:c_consumer)
  string(REPLACE ":" ";" parts ${example})
  list(GET parts 0 dir)
  list(GET parts 1 exe)
  set(bin ${WORK_DIR}/${dir})
  run("configure ${dir}" ${clean_env} ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/${dir} -B ${bin}
      -DCMAKE_BUILD_TYPE=Release -Dhybridge_DIR=${hybridge_dir}
      -DCMAKE_Fortran_COMPILER=${Fortran_COMPILER} -DCMAKE_C_COMPILER=${C_COMPILER})
  run("build ${dir}" ${clean_env} ${CMAKE_COMMAND} --build ${bin})
  run("run ${exe}" ${clean_env} ${bin}/${exe} ${MODEL})
  message(STATUS "${dir}: ${last_output}")
endforeach()
