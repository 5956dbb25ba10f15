// EtcdProcess: a one-member etcd for the differential test, on free loopback ports with its data
// in a fresh directory (removed afterwards), stopped by PID — SIGTERM, then SIGKILL if it has
// not exited within a deadline — when the object goes away.
//
// Thread rules: one thread.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace pharos::differential {

class EtcdProcess {
 public:
  // Starts `binary`; whether it answers is the caller's to wait for.
  explicit EtcdProcess(const std::string& binary);
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // host:port of its client (gRPC) listener.
  const std::string& endpoint() const { return endpoint_; }
  // Whether its client port takes connections yet.
  bool Listening() const;
  // What it has logged so far.
  std::string Log() const;

  // The etcd binary: $PHAROS_ETCD_BINARY, else `etcd` on the PATH; nullopt if there is none.
  static std::optional<std::string> Find();
  // Its first line of `--version` ("etcd Version: 3.4.23"), or an empty string.
  static std::string Version(const std::string& binary);

 private:
  std::string dir_;
  std::string endpoint_;
  pid_t pid_ = -1;
};

}  // namespace pharos::differential
