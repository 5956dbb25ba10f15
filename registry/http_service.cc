#include "registry/http_service.h"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/accept_retry.h"
#include "common/asio.h"
#include "common/host_address.h"

namespace pharos::registry {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, HttpService::Handler handler)
      : stream_(std::move(socket)), handler_(std::move(handler)) {}

  void Start() {
    stream_.expires_after(std::chrono::seconds(10));
    http::async_read(stream_, buffer_, request_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return;
                       self->Answer();
                     });
  }

 private:
  void Answer() {
    std::string path(request_.target());
    if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
    HttpResponse r;
    if (request_.method() != http::verb::get && request_.method() != http::verb::head) {
      r = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else {
      r = handler_(path);
    }
    response_.version(request_.version());
    response_.result(static_cast<http::status>(r.status));
    response_.set(http::field::content_type, r.content_type);
    response_.set(http::field::server, "pharosd");
    response_.keep_alive(false);
    response_.body() = std::move(r.body);
    response_.prepare_payload();
    if (request_.method() == http::verb::head) {
      // The length a GET would get, and no body: a body after a HEAD answer would be read as the
      // start of the next answer by a client that keeps its connection.
      response_.body().clear();
    }
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  HttpService::Handler handler_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

}  // namespace

class HttpService::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, std::string listen, Handler handler)
      : listen_(std::move(listen)),
        handler_(std::move(handler)),
        acceptor_(io),
        accept_retry_(io) {}

  Status Start() {
    const size_t colon = listen_.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("bad address " + listen_);
    auto host = NumericHost(listen_.substr(0, colon));  // a name: once, at start
    if (!host.ok()) return host.status();
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(*host, ec);
    if (ec) return Status::InvalidArgument("bad address " + listen_);
    tcp::endpoint ep(ip, static_cast<uint16_t>(std::stoi(listen_.substr(colon + 1))));
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::Unavailable("cannot listen on " + listen_ + ": " + ec.message());
    Accept();
    return Status::Ok();
  }
  void Stop() {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  }
  uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

 private:
  void Accept() {
    acceptor_.async_accept(
        [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket socket) {
          if (ec) {
            (void)AcceptAgainAfterPause(ec, self->acceptor_, self->accept_retry_,
                                        [self] { self->Accept(); });
            return;
          }
          std::make_shared<HttpSession>(std::move(socket), self->handler_)->Start();
          self->Accept();
        });
  }

  std::string listen_;
  Handler handler_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
};

HttpService::HttpService(asio::io_context& io, std::string listen, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(listen), std::move(handler))) {}
HttpService::~HttpService() { impl_->Stop(); }
Status HttpService::Start() { return impl_->Start(); }
void HttpService::Stop() { impl_->Stop(); }
uint16_t HttpService::port() const { return impl_->port(); }

}  // namespace pharos::registry
