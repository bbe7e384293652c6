include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS democratising EXPORT democratisingTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/democratising DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT democratisingTargets NAMESPACE democratising:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/democratising)
configure_package_config_file(cmake/democratisingConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/democratising)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/democratisingConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/democratising)
