include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# One export set per part, so that democratisingConfig.cmake loads (and finds the dependencies
# of) only the parts a consumer asks for.
set(DM_INSTALLED_COMPONENTS core async distributed)
if(DM_WITH_CUDA)
  list(APPEND DM_INSTALLED_COMPONENTS cuda nccl)
endif()
set(DM_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/democratising)
foreach(component IN LISTS DM_INSTALLED_COMPONENTS)
  install(TARGETS democratising_${component} EXPORT democratising_${component}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT democratising_${component} NAMESPACE democratising::
    FILE democratising-${component}-targets.cmake DESTINATION ${DM_CMAKE_INSTALL_DIR})
endforeach()
install(TARGETS democratising EXPORT democratising_all)
install(EXPORT democratising_all NAMESPACE democratising:: FILE democratising-all-targets.cmake
  DESTINATION ${DM_CMAKE_INSTALL_DIR})
install(DIRECTORY include/democratising DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

configure_package_config_file(cmake/democratisingConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfig.cmake
  INSTALL_DESTINATION ${DM_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/democratisingConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/democratisingConfigVersion.cmake
  DESTINATION ${DM_CMAKE_INSTALL_DIR})
