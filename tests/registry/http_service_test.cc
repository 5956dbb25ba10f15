// HttpService on loopback, spoken to with raw HTTP.
#include "registry/http_service.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "common/asio.h"
#include "tests/raw_connection.h"

namespace pharos::registry {
namespace {

// The whole answer to `request`, read until the service closes the connection.
std::string Ask(uint16_t port, const std::string& request) {
  pharos::testing::RawConnection c;
  if (!c.Connect("127.0.0.1:" + std::to_string(port))) return "";
  if (write(c.fd(), request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    return "";
  }
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = read(c.fd(), buf, sizeof buf)) > 0;) answer.append(buf, size_t(n));
  return answer;
}

// Before, a HEAD answer carried the body too, which a client keeping its connection reads as
// the start of the next answer.
TEST(HttpServiceTest, AHeadAnswerHasTheLengthOfTheBodyAndNoBody) {
  boost::asio::io_context io;
  HttpService service(io, "127.0.0.1:0", [](const std::string&) {
    return HttpResponse{200, "text/plain", "hello"};
  });
  ASSERT_TRUE(service.Start().ok());
  std::thread runner([&] {
    auto work = boost::asio::make_work_guard(io);
    io.run();
  });
  const std::string head = Ask(service.port(), "HEAD /status HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string get = Ask(service.port(), "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
  boost::asio::post(io, [&] {
    service.Stop();
    io.stop();
  });
  runner.join();
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  EXPECT_TRUE(head.ends_with("\r\n\r\n")) << head;
  EXPECT_TRUE(get.ends_with("\r\n\r\nhello")) << get;
}

}  // namespace
}  // namespace pharos::registry
