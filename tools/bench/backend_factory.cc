// Picks the backend for --target. The etcd driver is built only where gRPC was found
// (PHAROS_BENCH_ETCD), so Pharos itself never needs gRPC to build.
#include "tools/bench/backend.h"
#include "tools/bench/pharos_backend.h"

#ifdef PHAROS_BENCH_ETCD
#include "tools/bench/etcd_backend.h"
#endif

namespace pharos::bench {

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& target,
                                             const BackendOptions& options) {
  if (target == "pharos") return MakePharosBackend(options);
  if (target == "etcd") {
#ifdef PHAROS_BENCH_ETCD
    return MakeEtcdBackend(options);
#else
    return Status::FailedPrecondition(
        "this pharos-bench was built without gRPC, so it has no etcd driver: install "
        "libgrpc++-dev and protobuf-compiler-grpc (tools/bootstrap.sh) and reconfigure");
#endif
  }
  return Status::InvalidArgument("unknown target " + target + " (pharos or etcd)");
}

}  // namespace pharos::bench
