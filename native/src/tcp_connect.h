// TcpConnector: the half-open TCP connect health check, batched on one private epoll set
// (tcp_connect.cc).
#pragma once

#include <napi.h>

namespace ipvsd {

void RegisterTcpConnector(Napi::Env env, Napi::Object exports);

}  // namespace ipvsd
