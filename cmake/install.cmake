# `cmake --install` layout and the CMake package, so that another team's project does
#
#   find_package(orderquery CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE orderquery::client)
#
# <prefix>/bin/                     oqctl, orderqueryd (their install() rules live with them)
# <prefix>/include/orderquery/      client/orderquery_client.h and the generated headers it needs
#                                   (orderquery/v1, google/api, grpc/health/v1,
#                                   grpc_reflection_v1alpha): a private include root, so that
#                                   google/ and grpc/ here never mix with other packages' headers
# <prefix>/lib/                     liboq_client.a, liboq_proto.a, liboq_grpc_std_proto.a
# <prefix>/lib/cmake/orderquery/    orderqueryConfig.cmake (+ Version, Targets)
# <prefix>/share/orderquery/protos/ orderquery/v1/*.proto and the google/api protos they import
# <prefix>/share/orderquery/orderquery.protoset  descriptor set with imports (grpcurl -protoset)
#
# Included from the top CMakeLists; placement does not matter: when the targets do not exist
# yet, the file defers itself to the end of the top directory.
if(NOT TARGET oq_client OR NOT TARGET oq_proto OR NOT TARGET oq_grpc_std_proto)
  if(NOT OQ_INSTALL_DEFERRED)
    set(OQ_INSTALL_DEFERRED ON)
    # EVAL: the path is expanded now, not when the deferred call runs (in another list file).
    cmake_language(EVAL CODE
      "cmake_language(DEFER DIRECTORY [[${PROJECT_SOURCE_DIR}]] CALL include [[${CMAKE_CURRENT_LIST_FILE}]])")
    return()
  endif()
  message(FATAL_ERROR "install.cmake: targets oq_client/oq_proto/oq_grpc_std_proto are missing")
endif()

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(OQ_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/orderquery)
set(OQ_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/orderquery)
set(OQ_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/orderquery)

# Exported as orderquery::client, orderquery::proto, orderquery::grpc_std_proto (the same
# names as the in-tree aliases, so code builds the same either way).
set_target_properties(oq_client PROPERTIES EXPORT_NAME client)
set_target_properties(oq_proto PROPERTIES EXPORT_NAME proto)
set_target_properties(oq_grpc_std_proto PROPERTIES EXPORT_NAME grpc_std_proto)

install(TARGETS oq_client oq_proto oq_grpc_std_proto
  EXPORT orderqueryTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${OQ_INSTALL_INCLUDEDIR})

install(FILES ${PROJECT_SOURCE_DIR}/client/orderquery_client.h
  DESTINATION ${OQ_INSTALL_INCLUDEDIR}/client)
# Generated headers (the build's gen/ tree: only .h, never the .cc).
install(DIRECTORY ${OQ_PROTO_OUT_DIR}/
  DESTINATION ${OQ_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

install(DIRECTORY ${OQ_PROTO_SRC_DIR}/orderquery
  DESTINATION ${OQ_INSTALL_DATADIR}/protos
  FILES_MATCHING PATTERN "*.proto")
foreach(p IN LISTS OQ_GOOGLE_PROTOS)
  get_filename_component(d ${p} DIRECTORY)
  install(FILES ${OQ_GOOGLEAPIS_DIR}/${p} DESTINATION ${OQ_INSTALL_DATADIR}/protos/${d})
endforeach()
install(FILES ${OQ_PROTOSET} DESTINATION ${OQ_INSTALL_DATADIR})

install(EXPORT orderqueryTargets
  NAMESPACE orderquery::
  DESTINATION ${OQ_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/orderqueryConfig.cmake.in
  ${PROJECT_BINARY_DIR}/orderqueryConfig.cmake
  INSTALL_DESTINATION ${OQ_INSTALL_CMAKEDIR}
  PATH_VARS OQ_INSTALL_INCLUDEDIR OQ_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/orderqueryConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/orderqueryConfig.cmake
  ${PROJECT_BINARY_DIR}/orderqueryConfigVersion.cmake
  DESTINATION ${OQ_INSTALL_CMAKEDIR})

# The binaries link liboq_proto.so (shared, see protos.cmake): find it next to them after install.
foreach(t oqctl orderqueryd)
  if(TARGET ${t})
    set_property(TARGET ${t} APPEND PROPERTY INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  endif()
endforeach()
