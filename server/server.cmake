add_library(oq_config config/config.cc)
target_link_libraries(oq_config PUBLIC oq_common oq_providers absl::strings)
oq_warnings(oq_config)

add_library(oq_server app.cc app_metrics.cc app_wiring.cc http/listener.cc service/order_query_service.cc
  service/auth.cc service/rpc_metrics.cc service/status.cc service/trade_convert.cc service/trade_order_service.cc service/vehicle_convert.cc)
target_link_libraries(oq_server PUBLIC oq_usecase oq_config oq_providers oq_proto oq_storage
  oq_http oq_common gRPC::grpc++ gRPC::grpc++_reflection Threads::Threads
  PkgConfig::CPPHTTPLIB OpenSSL::Crypto)
oq_warnings(oq_server)

add_executable(orderqueryd main.cc)
target_link_libraries(orderqueryd PRIVATE oq_server)
oq_warnings(orderqueryd)
install(TARGETS orderqueryd RUNTIME DESTINATION bin)
