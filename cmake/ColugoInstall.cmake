# Installs the library, its headers, an exported CMake package
# (find_package (colugo)) and a pkg-config file (pkg-config colugo).
include (CMakePackageConfigHelpers)

install (TARGETS colugo EXPORT colugoTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install (DIRECTORY ${PROJECT_SOURCE_DIR}/colugo/include/
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install (EXPORT colugoTargets
    NAMESPACE colugo::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/colugo)

configure_package_config_file (${PROJECT_SOURCE_DIR}/cmake/colugoConfig.cmake.in
    ${PROJECT_BINARY_DIR}/colugoConfig.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/colugo)
write_basic_package_version_file (${PROJECT_BINARY_DIR}/colugoConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install (FILES ${PROJECT_BINARY_DIR}/colugoConfig.cmake
               ${PROJECT_BINARY_DIR}/colugoConfigVersion.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/colugo)

configure_file (${PROJECT_SOURCE_DIR}/cmake/colugo.pc.in ${PROJECT_BINARY_DIR}/colugo.pc @ONLY)
install (FILES ${PROJECT_BINARY_DIR}/colugo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
