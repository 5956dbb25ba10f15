#include "common/host_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

namespace pharos {
namespace {

bool IsIpLiteral(const std::string& host) {
  in6_addr ignored6;
  return IsIpv4Literal(host) || inet_pton(AF_INET6, host.c_str(), &ignored6) == 1;
}

}  // namespace

bool IsIpv4Literal(std::string_view host) {
  in_addr ignored;
  return inet_pton(AF_INET, std::string(host).c_str(), &ignored) == 1;
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  // "10.0.0", "1.2.3.4.5": the resolver would read a number, not look a name up.
  if (host.find_first_not_of("0123456789.") == std::string_view::npos) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    const std::string_view label = host.substr(start, dot - start);
    // A trailing dot (an absolute name) ends in an empty label and is refused with the rest.
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    if (!std::all_of(label.begin(), label.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
      return false;
    }
    start = dot + 1;
  }
  return true;
}

Result<std::string> NumericHost(const std::string& host) {
  if (IsIpLiteral(host)) return host;
  if (!IsHostName(host)) {
    return Status::InvalidArgument("'" + host + "' is neither an IP address nor a host name");
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
    return Status::Unavailable("cannot resolve host name '" + host + "': " + gai_strerror(rc));
  }
  char text[INET_ADDRSTRLEN] = {};
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
  inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
  freeaddrinfo(found);
  return std::string(text);
}

Result<std::string> NumericHostBefore(const std::string& host,
                                      std::chrono::steady_clock::time_point deadline,
                                      LookUpHost look_up) {
  if (IsIpLiteral(host)) return host;
  if (!IsHostName(host)) return NumericHost(host);  // says why, without a lookup
  struct Answer {
    std::mutex mu;
    std::condition_variable ready;
    std::optional<Result<std::string>> found;
  };
  auto answer = std::make_shared<Answer>();
  try {
    std::thread([answer, host, look_up = std::move(look_up)] {
      Result<std::string> found = look_up(host);
      std::lock_guard lock(answer->mu);
      answer->found = std::move(found);
      answer->ready.notify_all();
    }).detach();
  } catch (const std::system_error& e) {
    return Status::Unavailable("cannot look '" + host + "' up: " + e.what());
  }
  std::unique_lock lock(answer->mu);
  if (!answer->ready.wait_until(lock, deadline, [&] { return answer->found.has_value(); })) {
    return Status(StatusCode::kDeadlineExceeded,
                  "looking '" + host + "' up took longer than the call's deadline");
  }
  return *answer->found;
}

}  // namespace pharos
