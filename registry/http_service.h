// HttpService: the plain-HTTP side of pharosd on --listen-metrics (Boost.Beast): /metrics,
// /health and /status are answered by the handler the server installs. One request per
// connection; small responses only.
//
// Thread rules: runs on the I/O thread; the handler is called there.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace pharos::registry {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpService {
 public:
  using Handler = std::function<HttpResponse(const std::string& path)>;
  HttpService(boost::asio::io_context& io, std::string listen, Handler handler);
  ~HttpService();
  Status Start();
  void Stop();
  uint16_t port() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pharos::registry
