# Installs the library, its headers, an exported CMake package
# (find_package (colugo)) and a pkg-config file (pkg-config colugo).
include (CMakePackageConfigHelpers)

install (TARGETS colugo ${COLUGO_LAYERS} EXPORT colugoTargets
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

# One pkg-config file per typed layer: pkg-config colugo-proto / colugo-json.
foreach (layer ${COLUGO_LAYERS})
    string (REPLACE "colugo_" "" COLUGO_LAYER_NAME ${layer})
    if (layer STREQUAL "colugo_proto")
        set (COLUGO_LAYER_REQUIRES "colugo libprotobuf-c >= 1.3")
    else ()
        set (COLUGO_LAYER_REQUIRES "colugo jansson >= 2.12")
    endif ()
    configure_file (${PROJECT_SOURCE_DIR}/cmake/colugo-layer.pc.in
                    ${PROJECT_BINARY_DIR}/colugo-${COLUGO_LAYER_NAME}.pc @ONLY)
    install (FILES ${PROJECT_BINARY_DIR}/colugo-${COLUGO_LAYER_NAME}.pc
             DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach ()
