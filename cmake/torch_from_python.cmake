# Puts the installed torch wheel's CMake folder on CMAKE_PREFIX_PATH, unless Torch_DIR or
# CMAKE_PREFIX_PATH already lead to it. The Python asked is Python_EXECUTABLE (set by
# scikit-build-core under pip, or by the caller), else the first python3 on PATH.
if(Torch_DIR)
  return()
endif()
find_path(_hybridge_torch_config TorchConfig.cmake PATH_SUFFIXES Torch share/cmake/Torch NO_CACHE)
if(_hybridge_torch_config)
  return()
endif()
if(NOT Python_EXECUTABLE)
  find_package(Python REQUIRED COMPONENTS Interpreter)
endif()
execute_process(
  COMMAND ${Python_EXECUTABLE} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
  RESULT_VARIABLE _torch_status
  OUTPUT_VARIABLE _torch_prefix
  ERROR_VARIABLE _torch_error
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _torch_status EQUAL 0)
  message(
    FATAL_ERROR
      "hybridge builds against the torch installed in ${Python_EXECUTABLE}, which cannot "
      "import it:\n${_torch_error}\nInstall the pinned CPU wheel there first (pip install "
      "torch==2.13.0) and build with `pip install --no-build-isolation .`: an isolated build "
      "environment would download another torch.")
endif()
list(APPEND CMAKE_PREFIX_PATH ${_torch_prefix})
message(STATUS "hybridge: torch from ${Python_EXECUTABLE}: ${_torch_prefix}")
