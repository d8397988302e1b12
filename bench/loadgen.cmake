# bench/loadgen.cmake - the load generator of bench/run, built with the
# project's warnings. Included from bench/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/loadgen.cmake)
# bench/run also compiles it on its own (cc -O2 ... -ljansson), so it works
# from a build tree that does not include this file.
add_executable(loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.c)
target_link_libraries(loadgen PRIVATE PkgConfig::JANSSON)
