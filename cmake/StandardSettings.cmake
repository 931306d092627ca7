# Settings every first-party target links privately, so third-party code is never held to them.
add_library(loadmatrix_warnings INTERFACE)
target_compile_options(loadmatrix_warnings INTERFACE -Wall -Wextra -Werror -Wshadow
                                                     -Wnon-virtual-dtor -Wold-style-cast)
add_library(loadmatrix_settings INTERFACE)
target_link_libraries(loadmatrix_settings INTERFACE loadmatrix_warnings)
target_compile_definitions(loadmatrix_settings INTERFACE BOOST_PROCESS_USE_STD_FS
                                                         BOOST_ASIO_NO_DEPRECATED)
if(LOADMATRIX_SANITIZE)
  # GCC 12's instrumentation makes -Wmaybe-uninitialized fire inside libstdc++'s <regex>
  # (std::function in _NFA states); the sanitizers themselves catch real uninitialised reads.
  target_compile_options(loadmatrix_settings INTERFACE -fsanitize=address,undefined
                                                       -fno-omit-frame-pointer
                                                       -fno-sanitize-recover=undefined
                                                       -Wno-maybe-uninitialized)
  target_link_options(loadmatrix_settings INTERFACE -fsanitize=address,undefined)
endif()
