// snapshot status FILE and snapshot restore FILE: the offline half of backup and restore, which
// needs no cluster. status reads and verifies the file itself (common/snapshot_file.h). restore
// must write a member's data directory, which only the server's code knows how to do, and tools/
// may not include it (DESIGN.md §2): it runs `pharosd snapshot-restore` with the same arguments
// (exec, so pharosd's messages and exit code are the command's own).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "common/sha256.h"
#include "common/snapshot_file.h"
#include "tools/pharosctl/context.h"

namespace pharos::pharosctl {
namespace {

int RunSnapshotStatus(Context& ctx, const std::string& path) {
  auto info = ReadSnapshotFile(path);
  if (!info.ok()) return Fail(info.status());
  const std::string hash = HexOf(info->sha256);
  const std::string revision = std::to_string(info->header.revision);
  const std::string keys = std::to_string(info->header.key_count);
  switch (ctx.format()) {
    case Format::kJson:
      Emit("{\"hash\":" + JsonQuote(hash) + ",\"revision\":" + revision + ",\"totalKey\":" + keys +
           ",\"totalSize\":" + std::to_string(info->size_bytes) +
           ",\"compactRevision\":" + std::to_string(info->header.compact_revision) + "}\n");
      break;
    case Format::kTable:
      Emit(Table({"HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"},
                 {{hash, revision, keys, HumanBytes(static_cast<int64_t>(info->size_bytes))}}));
      break;
    case Format::kSimple:
      Emit(hash + ", " + revision + ", " + keys + ", " +
           HumanBytes(static_cast<int64_t>(info->size_bytes)) + "\n");
      break;
  }
  return kExitOk;
}

// pharosd as the operator chose it, else the one installed next to pharosctl, else $PATH's.
std::string FindPharosd(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("PHAROS_PHAROSD"); env && *env) return env;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto sibling = self.parent_path() / "pharosd";
    if (access(sibling.c_str(), X_OK) == 0) return sibling.string();
  }
  return "pharosd";
}

struct RestoreFlags {
  std::string file, name, data_dir, initial_cluster, pharosd;
};

int RunSnapshotRestore(Context& ctx, const RestoreFlags& f) {
  const std::string pharosd = FindPharosd(f.pharosd);
  std::vector<std::string> args = {
      pharosd,    "snapshot-restore",  f.file,           "--name", f.name, "--data-dir",
      f.data_dir, "--initial-cluster", f.initial_cluster};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // pharosd gets the signal mask pharosctl started with, so Ctrl-C stops it as usual.
  pthread_sigmask(SIG_SETMASK, &ctx.signals().original_mask(), nullptr);
  // A path with a slash is run as given; a bare name is looked up on $PATH.
  execvp(argv[0], argv.data());
  const int err = errno;
  return Fail("cannot run " + pharosd + ": " + std::strerror(err) +
              " (pass --pharosd PATH or set PHAROS_PHAROSD)");
}

}  // namespace

void AddSnapshotFileCommands(CLI::App& snapshot, Context& ctx) {
  auto status_path = std::make_shared<std::string>();
  auto* status = snapshot.add_subcommand(
      "status", "Verifies FILE and prints its hash, revision, total keys and total size");
  status->add_option("file", *status_path, "FILE")->required();
  ctx.Register(status, [&ctx, status_path] { return RunSnapshotStatus(ctx, *status_path); });

  auto flags = std::make_shared<RestoreFlags>();
  auto* restore = snapshot.add_subcommand(
      "restore",
      "Offline: makes a new member's data directory from FILE (a new cluster, its membership "
      "given by --initial-cluster); run on each member with its own --name, then start pharosd");
  restore->add_option("file", flags->file, "FILE")->required();
  restore->add_option("--name", flags->name, "this member's name (as in --initial-cluster)")
      ->required();
  restore
      ->add_option("--data-dir", flags->data_dir,
                   "the new data directory; must not exist or be empty")
      ->required();
  restore
      ->add_option("--initial-cluster", flags->initial_cluster,
                   "the new cluster's members: name=host:port,... (peer addresses)")
      ->required();
  restore->add_option("--pharosd", flags->pharosd,
                      "the pharosd binary that writes the directory (default: $PHAROS_PHAROSD, "
                      "else the one next to pharosctl, else pharosd on $PATH)");
  ctx.Register(restore, [&ctx, flags] { return RunSnapshotRestore(ctx, *flags); });
}

}  // namespace pharos::pharosctl
