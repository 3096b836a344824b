# Compiles protos/ (and the google/api protos they import) into the oq_proto library, and
# writes a descriptor set with imports (orderquery.protoset) for gateways and grpcurl.
# Generated code stays in the build tree.

set(OQ_PROTO_SRC_DIR ${PROJECT_SOURCE_DIR}/protos)
set(OQ_PROTO_OUT_DIR ${PROJECT_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${OQ_PROTO_OUT_DIR})

# google/api/{annotations,http}.proto: Debian ships them with the grpc-gateway sources.
find_path(OQ_GOOGLEAPIS_DIR google/api/annotations.proto
  PATHS /usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis
        /usr/share/gocode/src/google.golang.org/genproto/googleapis/..
  NO_DEFAULT_PATH REQUIRED)

get_target_property(OQ_GRPC_CPP_PLUGIN gRPC::grpc_cpp_plugin LOCATION)
set(OQ_PROTOC $<TARGET_FILE:protobuf::protoc>)

set(OQ_PROTOS
  orderquery/v1/recharge.proto
  orderquery/v1/vehicle.proto
  orderquery/v1/trade.proto
  orderquery/v1/service.proto)
set(OQ_GOOGLE_PROTOS google/api/http.proto google/api/annotations.proto)

set(OQ_PROTO_SRCS)
foreach(p IN LISTS OQ_GOOGLE_PROTOS)
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  add_custom_command(
    OUTPUT ${OQ_PROTO_OUT_DIR}/${base}.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.pb.h
    COMMAND ${OQ_PROTOC} -I${OQ_GOOGLEAPIS_DIR} --cpp_out=${OQ_PROTO_OUT_DIR} ${OQ_GOOGLEAPIS_DIR}/${p}
    DEPENDS ${OQ_GOOGLEAPIS_DIR}/${p}
    COMMENT "protoc ${p}")
  list(APPEND OQ_PROTO_SRCS ${OQ_PROTO_OUT_DIR}/${base}.pb.cc)
endforeach()

foreach(p IN LISTS OQ_PROTOS)
  string(REGEX REPLACE "\\.proto$" "" base ${p})
  add_custom_command(
    OUTPUT ${OQ_PROTO_OUT_DIR}/${base}.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.pb.h
           ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.h
    COMMAND ${OQ_PROTOC} -I${OQ_PROTO_SRC_DIR} -I${OQ_GOOGLEAPIS_DIR}
            --cpp_out=${OQ_PROTO_OUT_DIR} --grpc_out=${OQ_PROTO_OUT_DIR}
            --plugin=protoc-gen-grpc=${OQ_GRPC_CPP_PLUGIN}
            ${OQ_PROTO_SRC_DIR}/${p}
    DEPENDS ${OQ_PROTO_SRC_DIR}/${p}
    COMMENT "protoc ${p}")
  list(APPEND OQ_PROTO_SRCS ${OQ_PROTO_OUT_DIR}/${base}.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.cc)
endforeach()

list(TRANSFORM OQ_PROTOS PREPEND ${OQ_PROTO_SRC_DIR}/ OUTPUT_VARIABLE OQ_PROTO_FILES)
set(OQ_PROTOSET ${PROJECT_BINARY_DIR}/orderquery.protoset)
add_custom_command(
  OUTPUT ${OQ_PROTOSET}
  COMMAND ${OQ_PROTOC} -I${OQ_PROTO_SRC_DIR} -I${OQ_GOOGLEAPIS_DIR} --include_imports
          --include_source_info --descriptor_set_out=${OQ_PROTOSET} ${OQ_PROTO_FILES}
  DEPENDS ${OQ_PROTO_FILES}
  COMMENT "descriptor set orderquery.protoset")
add_custom_target(oq_protoset ALL DEPENDS ${OQ_PROTOSET})

# Shared on purpose: from a static archive the linker drops service.pb.o (nothing references it)
# and its descriptors never register, so reflection could list the services but not describe them.
add_library(oq_proto SHARED ${OQ_PROTO_SRCS})
add_library(orderquery::proto ALIAS oq_proto)
target_include_directories(oq_proto PUBLIC $<BUILD_INTERFACE:${OQ_PROTO_OUT_DIR}>)
target_link_libraries(oq_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)

# Client-side stubs for the standard gRPC services (grpc.health.v1, grpc.reflection.v1alpha), for
# oqctl and tests. Debian ships the protos with the Go gRPC sources. The server must NOT link
# this target: libgrpc++_reflection carries its own copy of the reflection descriptors.
set(OQ_GRPC_GO_DIR /usr/share/gocode/src/google.golang.org/grpc)
find_path(OQ_HEALTH_PROTO_DIR grpc/health/v1/health.proto
  PATHS ${OQ_GRPC_GO_DIR}/debian/missing-sources/grpc/grpc-proto/master NO_DEFAULT_PATH REQUIRED)
find_path(OQ_REFLECTION_PROTO_DIR grpc_reflection_v1alpha/reflection.proto
  PATHS ${OQ_GRPC_GO_DIR}/reflection NO_DEFAULT_PATH REQUIRED)
set(OQ_STD_PROTO_SRCS)
foreach(pair "${OQ_HEALTH_PROTO_DIR}|grpc/health/v1/health" "${OQ_REFLECTION_PROTO_DIR}|grpc_reflection_v1alpha/reflection")
  string(REPLACE "|" ";" parts "${pair}")
  list(GET parts 0 dir)
  list(GET parts 1 base)
  add_custom_command(
    OUTPUT ${OQ_PROTO_OUT_DIR}/${base}.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.cc
           ${OQ_PROTO_OUT_DIR}/${base}.pb.h ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.h
    COMMAND ${OQ_PROTOC} -I${dir} --cpp_out=${OQ_PROTO_OUT_DIR} --grpc_out=${OQ_PROTO_OUT_DIR}
            --plugin=protoc-gen-grpc=${OQ_GRPC_CPP_PLUGIN} ${dir}/${base}.proto
    DEPENDS ${dir}/${base}.proto
    COMMENT "protoc ${base}.proto")
  list(APPEND OQ_STD_PROTO_SRCS ${OQ_PROTO_OUT_DIR}/${base}.pb.cc ${OQ_PROTO_OUT_DIR}/${base}.grpc.pb.cc)
endforeach()
add_library(oq_grpc_std_proto ${OQ_STD_PROTO_SRCS})
target_include_directories(oq_grpc_std_proto PUBLIC $<BUILD_INTERFACE:${OQ_PROTO_OUT_DIR}>)
target_link_libraries(oq_grpc_std_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
