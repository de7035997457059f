# ctest examples.lonlat_model (cmake -P): examples/03_lonlat_model as a user builds it.
#  1. against an installed hybridge (a fresh install prefix): an emulator exported through
#     the public Python API, three ML steps with two calls recorded, then
#     `hybridge verify replay` must find every recorded call bit-identical to Python;
#  2. without hybridge (the build-time stand-in): the conventional physics runs, and asking
#     for ML physics stops with a message saying the build has none.
# Inputs: BUILD_DIR SOURCE_DIR WORK_DIR Fortran_COMPILER PYTHON.
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR Fortran_COMPILER PYTHON)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "example_lonlat.cmake needs -D${var}=...")
  endif()
endforeach()

# run(<what> <command...>): runs the command in WORK_DIR, stops with its output when it
# fails, and leaves its standard output in last_output.
function(run what)
  execute_process(
    COMMAND ${ARGN}
    WORKING_DIRECTORY ${WORK_DIR}
    RESULT_VARIABLE rc
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(example ${SOURCE_DIR}/examples/03_lonlat_model)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# 1. with hybridge
run("configure" ${CMAKE_COMMAND} -S ${example} -B ${WORK_DIR}/with
    -Dhybridge_DIR=${prefix}/lib/cmake/hybridge -DCMAKE_Fortran_COMPILER=${Fortran_COMPILER})
run("build" ${CMAKE_COMMAND} --build ${WORK_DIR}/with)
run("make_emulator.py" ${PYTHON} ${example}/make_emulator.py ${WORK_DIR}/emulator.pt)
file(WRITE ${WORK_DIR}/ml.nml "&lonlat_nl physics_mode = 'ml', model_path = 'emulator.pt',
  ml_options = 'chunk=512;record=calls;record_calls=1,3', nsteps = 3 /\n")
run("lonlat_model (ml)" ${WORK_DIR}/with/lonlat_model ml.nml)
if(NOT last_output MATCHES "4608 columns, ML physics built in: T.*step 3: .*lonlat_model: done")
  message(FATAL_ERROR "unexpected output of the ML run:\n${last_output}")
endif()
run("hybridge verify replay"
    ${PYTHON}
    -m
    hybridge
    verify
    replay
    calls
    --model
    emulator.pt)
if(NOT last_output MATCHES "2 of 2 recorded calls bit-identical")
  message(FATAL_ERROR "replay:\n${last_output}")
endif()
message(STATUS "replay: ${last_output}")

# 2. without hybridge
run("configure (no hybridge)" ${CMAKE_COMMAND} -S ${example} -B ${WORK_DIR}/without
    -DLONLAT_WITH_HYBRIDGE=OFF -DCMAKE_Fortran_COMPILER=${Fortran_COMPILER})
run("build (no hybridge)" ${CMAKE_COMMAND} --build ${WORK_DIR}/without)
file(WRITE ${WORK_DIR}/conventional.nml "&lonlat_nl physics_mode = 'conventional', nsteps = 2 /\n")
run("lonlat_model (stand-in, conventional)" ${WORK_DIR}/without/lonlat_model conventional.nml)
execute_process(
  COMMAND ${WORK_DIR}/without/lonlat_model ml.nml
  WORKING_DIRECTORY ${WORK_DIR}
  RESULT_VARIABLE rc
  ERROR_VARIABLE err
  OUTPUT_QUIET)
if(rc EQUAL 0 OR NOT err MATCHES "built without hybridge")
  message(FATAL_ERROR "the stand-in accepted ML physics (${rc}): ${err}")
endif()
